"""The byol-digits recipe: BYOL through ``scale.predictor_hidden`` + ``scale.momentum``, a few steps end to
end (the step itself: tests/train/test_byol_step.py)."""

import json

import pytest
import torch

from contrastkit.cli import main
from contrastkit.recipes import build_components, load_recipe
from contrastkit.train.checkpoint import load_checkpoint, model_state


def test_byol_recipe_asks_for_predictor_momentum_target_and_negative_cosine(capsys):
    config, name = load_recipe("byol-digits")
    assert name == "byol-digits" and config.head is not None
    assert config.loss.name == "NegativeCosine" and config.scale.queue_size is None
    assert 0 < config.scale.momentum < 1 and config.scale.predictor_hidden > 0
    build_components(config)  # the [scale] checks accept it
    assert main(["recipes"]) == 0
    assert "byol-digits" in capsys.readouterr().out


def test_byol_digits_trains_and_reports_the_effective_rank(tmp_path, capsys):
    sets = ["encoder.width=8", "encoder.depth=2", "encoder.embedding_dim=16", "head.hidden_dim=16",
            "head.output_dim=8", "scale.predictor_hidden=16", "data.max_samples=300", "train.batch_size=32",
            "train.max_steps=6", "train.eval_every=0", "train.checkpoint_every=6", "train.report=false",
            "eval.knn_k=5", f"run.output_dir='{tmp_path / 'runs'}'"]
    argv = ["train", "byol-digits", "--quiet", "--json"]
    for item in sets:
        argv += ["--set", item]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["baselines"]) == {"raw input", "untrained encoder"}
    final = result["final"]
    assert final["effective_rank"] > 1.0  # the collapse check is in the table
    (run_dir,) = (tmp_path / "runs").glob("byol-digits-*")
    assert main(["eval", str(run_dir), "--json"]) == 0  # the saved model is the model without predictor
    again = json.loads(capsys.readouterr().out)
    assert again["knn_accuracy"] == pytest.approx(final["knn_accuracy"], abs=1e-9)
    tensors, meta = load_checkpoint(run_dir / "checkpoints")
    state = model_state(tensors)
    assert meta["step"] == 6 and int(state["momentum.step"]) == 6
    assert state["predictor.net.3.weight"].shape == (8, 16)  # head width -> hidden -> head width
    online = {k[len("model."):]: v for k, v in state.items()
              if k.startswith("model.") and v.is_floating_point()}
    assert any(not torch.equal(v, state[f"momentum.encoder.{k}"]) for k, v in online.items())
