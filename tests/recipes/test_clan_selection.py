"""clan-bio selects its checkpoint on the labelled validation rows of bio_train, never its test rows."""

import numpy as np
import pytest
import torch

from contrastkit.data.tabular import TableData
from contrastkit.recipes.catalogue import load_recipe
from contrastkit.train.config import ConfigError

TEST_ROWS, VALIDATION_ROWS, ROWS = 50, 60, 400


@pytest.fixture
def numbered_bio(monkeypatch):
    """A fake bio_train: column 0 the row number, every 10th row positive and shifted in column 1."""
    def fake(max_rows=None, standardize=True, subset_seed=0):
        ids = torch.arange(ROWS, dtype=torch.float32)
        positive = torch.arange(ROWS) % 10 == 0
        noise = torch.randn(ROWS, 3, generator=torch.Generator().manual_seed(0))
        signal = noise[:, 0] + 4.0 * positive
        return TableData(torch.stack([ids, signal, noise[:, 1], noise[:, 2]], 1), positive.long(),
                         standardize=standardize)

    monkeypatch.setattr("contrastkit.data.widedeep.load_bio_train", fake)


def tiny_clan(tmp_path, *extra):
    """clan-bio on the fake table, raw features (so column 0 still names each row)."""
    config, _ = load_recipe("clan-bio", [
        f"data.test_rows={TEST_ROWS}", f"data.validation_rows={VALIDATION_ROWS}", "data.transform='none'",
        "data.standardize=false", "encoder.hidden_dims=[16]", "encoder.output_dim=8", "train.batch_size=16",
        "train.max_steps=6", "train.eval_every=2", "train.checkpoint_every=2", f"run.output_dir='{tmp_path}'",
        *extra])
    return config


class ScriptedAUROC:
    """Stands in for AnomalyEvaluator.metrics: the given AUROCs in turn; keeps each call's inputs."""

    def __init__(self, values):
        self.values, self.calls = list(values), []

    def __call__(self, evaluator, train_x, test_x):
        self.calls.append((evaluator, train_x.clone(), test_x.clone()))
        return {"auroc": self.values[len(self.calls) - 1]}


def test_the_selected_model_is_the_step_with_the_best_validation_auroc(numbered_bio, monkeypatch, tmp_path):
    from contrastkit.evaluate import AnomalyEvaluator
    from contrastkit.recipes.inference import load_run_encoder
    from contrastkit.recipes.runner import train

    scripted = ScriptedAUROC([0.6, 0.9, 0.7])  # steps 2, 4, 6: step 4 is the best, not the last
    monkeypatch.setattr(AnomalyEvaluator, "metrics", lambda self, a, b: scripted(self, a, b))
    run = train(tiny_clan(tmp_path), "clan-bio", quiet=True, write_report=False)
    assert len(scripted.calls) == 3 and run.selection["selected_step"] == 4
    assert run.selection["validation_value"] == 0.9
    evaluator, _, at_best = scripted.calls[1]
    encoder, _ = load_run_encoder(run.run_dir.path, torch.device("cpu"))
    with torch.no_grad():
        saved = evaluator.embed(encoder, evaluator.inputs[1])
    assert torch.allclose(saved, at_best, atol=1e-6)  # the saved model embeds as step 4 did
    assert not torch.allclose(saved, scripted.calls[2][2], atol=1e-6)  # and not as the last step


def test_selection_reads_validation_rows_and_benign_training_rows_never_test_rows(numbered_bio, monkeypatch,
                                                                                  tmp_path):
    from contrastkit import evaluate
    from contrastkit.recipes.runner import train

    seen = []
    real = evaluate.AnomalyEvaluator

    def spy(train_inputs, test_inputs, test_labels, **options):
        seen.append((train_inputs[:, 0].tolist(), test_inputs[:, 0].tolist(), options))
        return real(train_inputs, test_inputs, test_labels, **options)

    monkeypatch.setattr(evaluate, "AnomalyEvaluator", spy)
    monkeypatch.setattr("contrastkit.data.one_class.bio_train_one_class_test",
                        lambda *a, **k: pytest.fail("the trainer read the test rows"))
    run = train(tiny_clan(tmp_path), "clan-bio", quiet=True, write_report=False)
    assert len(seen) == 1  # bound once, to the validation split (the trainer's test split is benign)
    index, scored, options = seen[0]
    assert sorted(scored) == list(range(TEST_ROWS, TEST_ROWS + VALIDATION_ROWS))
    assert min(index) >= TEST_ROWS + VALIDATION_ROWS and all(int(i) % 10 for i in index)
    assert options["k"] == 5
    evals = [r for r in run.run_dir.read_metrics() if r.get("kind") == "eval"]
    assert [r["step"] for r in evals] == [2, 4, 6] and all(0 <= r["anomaly/auroc"] <= 1 for r in evals)
    assert "anomaly/auroc" not in run.final  # the final table's split holds benign rows only


def test_anomaly_selection_needs_labelled_validation_rows(numbered_bio, tmp_path):
    from contrastkit.recipes.runner import train

    with pytest.raises(ConfigError, match=r"data\.validation_rows"):
        tiny_clan(tmp_path, "data.validation_rows=0")
    config = tiny_clan(tmp_path, "data.validation_fraction=0.1")  # a share of benign rows: one label
    with pytest.raises(ConfigError, match=r"eval.tasks \(anomaly\)"):
        train(config, "clan-bio", quiet=True, write_report=False)


def test_clan_bio_scores_the_untrained_encoder_too(numbered_bio, tmp_path):
    from contrastkit.recipes.tabular_anomaly import clan_bio

    scores = clan_bio(tiny_clan(tmp_path, "data.standardize=true", "data.transform='quantile'"),
                      split="validation")
    assert list(scores) == ["raw-feature kNN (cosine)", "raw-feature kNN (Euclidean)", "IsolationForest",
                            "untrained encoder (kNN)", "CLAN centroid", "CLAN kNN"]
    assert all(0 <= v <= 1 for v in scores.values()) and np.isfinite(list(scores.values())).all()
