"""Tabular studies: SCARF's noisy labels and paired verdicts, CLAN's bio_train splits and scores."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from contrastkit.data.tabular import TableData
from contrastkit.recipes import label_scarcity
from contrastkit.recipes.label_scarcity import (
    check_noise_rate,
    flip_labels,
    markdown_summary,
    paired_verdict,
    probe_feature_sets,
)
from contrastkit.recipes.tabular_anomaly import centroid_auroc, held_out_rows, isolation_forest_auroc


def _script(name):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[2] / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("rate", [1, 1.0, -0.1, 1.5, float("nan"), True, "0.2"])
def test_noise_rate_outside_0_1_is_rejected(rate):
    with pytest.raises(ValueError, match="label noise rate"):
        check_noise_rate(rate)


@pytest.mark.parametrize("classes", [2, 3])
def test_flip_labels_flips_exactly_that_share_to_another_class(classes):
    labels = np.arange(200) % classes
    noisy = flip_labels(labels, 0.2, seed=0)
    changed = noisy != labels
    assert changed.sum() == 40  # round(0.2 * 200), each to a class other than its own
    assert set(noisy) <= set(labels)
    assert np.array_equal(labels, np.arange(200) % classes)  # the input is not modified
    assert np.array_equal(noisy, flip_labels(labels, 0.2, seed=0))
    assert not np.array_equal(noisy, flip_labels(labels, 0.2, seed=1))
    assert np.array_equal(flip_labels(labels, 0.0, seed=0), labels)


def test_probe_fits_every_feature_set_on_the_same_flipped_labels(monkeypatch):
    seen = []

    def spy(train_x, train_y, test_x, test_y, **_):
        seen.append(train_y.clone())
        return 0.5

    monkeypatch.setattr("contrastkit.evaluate.linear_probe", spy)
    y = torch.arange(100) % 2
    raw, emb = torch.randn(100, 3), torch.randn(100, 4)
    probe_feature_sets(raw, emb, y, raw[:10], emb[:10], y[:10], 1.0, seed=0, noise=0.3)
    assert len(seen) == 3 and all(torch.equal(s, seen[0]) for s in seen)
    assert int((seen[0] != y).sum()) == 30  # fails if the flips were not applied
    seen.clear()
    probe_feature_sets(raw, emb, y, raw[:10], emb[:10], y[:10], 1.0, seed=0)
    assert torch.equal(seen[0], y)


def test_paired_verdict_needs_the_interval_to_exclude_zero():
    assert paired_verdict([0.02, 0.03, 0.025, 0.02]) == "reproduced"
    assert paired_verdict([-0.02, -0.03, -0.025, -0.02]) == "not reproduced"
    assert paired_verdict([0.05, -0.04, 0.01, 0.0]) == "inconclusive"
    assert paired_verdict([0.05]) == "inconclusive"  # one seed has no spread


def test_markdown_summary_has_a_noise_column_and_the_paired_difference():
    rows = [{"recipe": "r", "seed": s, "fraction": 1.0, "noise": 0.2, "features": f, "accuracy": a + d}
            for s, a in enumerate([0.8, 0.9, 0.85])
            for f, d in (("raw", 0.0), ("embedding", 0.01), ("raw+embedding", 0.0))]
    line = markdown_summary(rows).splitlines()[2]
    assert line.startswith("| r | 100% | 20% | 0.8500 ± 0.0500 | 0.8600 ± 0.0500 |")
    assert "| 0.0100 ± 0.0000 | reproduced | 3 |" in line


def test_study_rejects_a_bad_noise_rate_before_training(monkeypatch):
    monkeypatch.setattr("contrastkit.recipes.runner.train", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ValueError, match="label noise rate"):
        label_scarcity.label_fraction_study("scarf-breast-cancer", [0.1], 1, noise_rates=[0.2, 1.0])


@pytest.mark.parametrize(("option", "value", "named"), [("--noise", "1.0", "--noise"),
                                                         ("--noise", "-0.2", "--noise"),
                                                         ("--noise-fraction", "0", "--noise-fraction"),
                                                         ("--fractions", "2", "--fractions")])
def test_scarf_script_bad_noise_or_fraction_is_one_line_exit_2_before_training(option, value, named,
                                                                               tmp_path, capsys):
    code = _script("study_scarf").main(["scarf-breast-cancer", option, value,
                                        "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and named in err
    assert not (tmp_path / "o").exists()


@pytest.fixture
def numbered_bio(monkeypatch):
    """A fake bio_train whose first column is the row number (every 10th row positive)."""
    def fake(max_rows=None, standardize=True, subset_seed=0):
        ids = torch.arange(300, dtype=torch.float32)
        return TableData(torch.stack([ids, ids % 7], 1), (torch.arange(300) % 10 == 0).long(),
                         standardize=standardize)

    monkeypatch.setattr("contrastkit.data.widedeep.load_bio_train", fake)


def test_bio_validation_rows_are_disjoint_from_test_and_training_rows(numbered_bio):
    from contrastkit.data.one_class import (
        bio_train_one_class,
        bio_train_one_class_test,
        bio_train_one_class_validation,
    )

    test = set(bio_train_one_class_test(50).inputs[:, 0].tolist())
    validation = bio_train_one_class_validation(60, 50).inputs[:, 0]
    train = bio_train_one_class(test_rows=50, validation_rows=60)
    assert len(test) == 50 and len(validation) == 60 and int(train.labels.sum()) == 0
    ids = set(validation.tolist())
    assert not ids & test and not ids & set(train.inputs[:, 0].tolist())
    assert not test & set(train.inputs[:, 0].tolist())
    assert len(train) == len([i for i in range(110, 300) if i % 10])  # every benign row after both
    with pytest.raises(ValueError, match="validation_rows"):
        bio_train_one_class(validation_rows=-1)


def test_held_out_rows_needs_validation_rows_and_a_known_split(numbered_bio):
    assert len(held_out_rows({"test_rows": 50, "validation_rows": 40}, "validation")) == 40
    assert len(held_out_rows({"test_rows": 50}, "test")) == 50
    with pytest.raises(ValueError, match=r"data\.validation_rows"):
        held_out_rows({"test_rows": 50}, "validation")
    with pytest.raises(ValueError, match="split"):
        held_out_rows({}, "train")


def test_clan_script_validation_without_validation_rows_is_one_line_exit_2(tmp_path, capsys):
    code = _script("study_anomaly").main(["clan", "--split", "validation", "--set", "data.validation_rows=0",
                                          "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "data.validation_rows" in err


def test_centroid_and_forest_scores_rank_far_rows_as_anomalies():
    torch.manual_seed(0)
    shift = torch.tensor([5.0] + [0.0] * 7)
    normal = torch.randn(200, 8) + shift
    test = torch.cat([torch.randn(50, 8) + shift, torch.randn(50, 8) - shift])
    labels = np.array([0] * 50 + [1] * 50)
    assert centroid_auroc(normal, test, labels) > 0.95
    assert centroid_auroc(normal, test, 1 - labels) < 0.05  # the test can fail: swapped labels
    far = torch.cat([test[:50], torch.randn(50, 8) + 6])  # far from the normal rows in every feature
    assert isolation_forest_auroc(normal, far, labels) > 0.95


def test_quantile_transform_is_fitted_on_training_rows_and_shared_by_held_out_rows(numbered_bio):
    from contrastkit.data.one_class import bio_train_one_class

    options = {"test_rows": 50, "validation_rows": 60, "transform": "quantile"}
    train = bio_train_one_class(test_rows=50, validation_rows=60, transform="quantile")
    raw = bio_train_one_class(test_rows=50, validation_rows=60)
    assert torch.equal(train.labels, raw.labels) and not torch.allclose(train.features, raw.features)
    assert abs(float(train.features[:, 0].mean())) < 0.1  # about normal on the rows it was fitted on
    test = held_out_rows(options, "test")
    # test ids (0..49) lie below every training id (>= 110): the training fit maps all to its minimum
    assert torch.allclose(test.features[:, 0], train.features[:, 0].min().expand(50))
    seven = {float(v): float(t) for v, t in zip(raw.features[:, 1], train.features[:, 1], strict=True)}
    validation = held_out_rows(options, "validation")
    raw_validation = held_out_rows({**options, "transform": "none"}, "validation")
    for v, t in zip(raw_validation.features[:, 1], validation.features[:, 1], strict=True):
        assert abs(seven[float(v)] - float(t)) < 1e-5  # the same map as the training rows'
    with pytest.raises(ValueError, match="transform"):
        held_out_rows({**options, "transform": "log"}, "test")
    with pytest.raises(ValueError, match="transform"):
        bio_train_one_class(transform="log")


@pytest.mark.parametrize(("override", "named"), [("data.transform='log'", "data.transform"),
                                                 ("data.validation_rows=-5", "data.validation_rows")])
def test_clan_bio_bad_data_option_is_one_line_exit_2(override, named, tmp_path, capsys):
    from contrastkit.cli import main

    assert main(["train", "clan-bio", "--set", override, "--set", f"run.output_dir='{tmp_path}'"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err
