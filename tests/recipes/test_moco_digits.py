"""The moco-digits recipe: MoCo v2 through the ``[scale]`` wiring, a few steps end to end."""

import json

import pytest
import torch

from contrastkit.cli import main
from contrastkit.recipes import load_recipe
from contrastkit.train.checkpoint import load_checkpoint, model_state


def test_moco_recipe_asks_for_momentum_encoder_queue_and_infonce():
    config, name = load_recipe("moco-digits")
    assert name == "moco-digits"
    assert config.loss.name == "InfoNCE" and config.head is not None
    assert 0 < config.scale.momentum < 1 and config.scale.queue_size >= config.train.batch_size


@pytest.mark.slow
def test_moco_digits_trains_with_queue_and_momentum_encoder(tmp_path, capsys):
    sets = [
        "encoder.width=8",
        "encoder.depth=2",
        "encoder.embedding_dim=16",
        "head.hidden_dim=16",
        "head.output_dim=8",
        "data.max_samples=300",
        "train.batch_size=32",
        "train.max_steps=6",
        "train.eval_every=0",
        "train.checkpoint_every=6",
        "train.report=false",
        "scale.queue_size=64",
        "eval.knn_k=5",
        f"run.output_dir='{tmp_path / 'runs'}'",
    ]
    argv = ["train", "moco-digits", "--quiet", "--json"]
    for item in sets:
        argv += ["--set", item]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["baselines"]) == {"raw input", "untrained encoder"}
    final = result["final"]
    (run_dir,) = (tmp_path / "runs").glob("moco-digits-*")
    # the reported metrics are those of the saved model (learning itself: tests/recipes/test_learning.py)
    assert main(["eval", str(run_dir), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    for metric in ("knn_accuracy", "linear_probe_accuracy"):
        assert again[metric] == pytest.approx(final[metric], abs=1e-9), metric
    assert final["knn_accuracy"] != result["baselines"]["untrained encoder"]["knn_accuracy"] or \
        final["linear_probe_accuracy"] != result["baselines"]["untrained encoder"]["linear_probe_accuracy"]
    tensors, meta = load_checkpoint(run_dir / "checkpoints")
    state = model_state(tensors)
    assert meta["step"] == 6
    # 6 batches of 32 keys were pushed into a queue of 64: it is full, with valid sample ids
    assert int(state["queue.count"]) == 64 and bool((state["queue.ids"] >= 0).all())
    # the key encoder is an EMA of the online model: it exists and lags behind it
    online = {k[len("model."):]: v for k, v in state.items()
              if k.startswith("model.") and v.is_floating_point()}
    lagging = {k: state[f"momentum.encoder.{k}"] for k in online}
    assert any(not torch.equal(online[k], lagging[k]) for k in online)
