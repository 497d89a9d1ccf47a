"""RobustnessEvaluator: probes fitted once on clean embeddings, scored on each corrupted test set."""

import pytest
import torch

from contrastkit.evaluate import RobustnessEvaluator, fit_linear_probe, knn_accuracy
from contrastkit.evaluate.corruptions import corrupt
from contrastkit.evaluate.robustness import CorruptedImages


def stripes(n, seed):
    """Two classes of 8x8 images: horizontal (0) or vertical (1) bars, at random positions."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = torch.zeros(n, 1, 8, 8)
    where = torch.randint(1, 7, (n,), generator=g)
    for i in range(n):
        if labels[i] == 0:
            images[i, 0, where[i], :] = 1.0
        else:
            images[i, 0, :, where[i]] = 1.0
    return images, labels


def flat(images):
    return torch.as_tensor(images).flatten(1)


def test_keys_values_and_drops_match_the_functions():
    train_x, train_y = stripes(60, 0)
    test_x, test_y = stripes(30, 1)
    ev = RobustnessEvaluator(train_x, train_y, test_x, test_y, corruptions=("occlusion", "rotation"),
                             severities=(1, 3), k=5, batch_size=16)
    got = ev(flat)
    assert ev.primary_metric == "robustness/knn_drop/mean" and not ev.greater_is_better
    clean_knn = knn_accuracy(flat(train_x), train_y, flat(test_x), test_y, k=5)
    probe = fit_linear_probe(flat(train_x), train_y)
    assert got["robustness/knn_accuracy"] == clean_knn
    assert got["robustness/linear_probe_accuracy"] == probe.accuracy(flat(test_x), test_y)
    for name in ("occlusion", "rotation"):
        for severity in (1, 3):
            images = torch.cat([corrupt(test_x[a:a + 16], name, severity, seed=a) for a in range(0, 30, 16)])
            knn = knn_accuracy(flat(train_x), train_y, flat(images), test_y, k=5)
            assert got[f"robustness/knn_accuracy/{name}@{severity}"] == knn
            assert got[f"robustness/knn_drop/{name}@{severity}"] == pytest.approx(clean_knn - knn)
            linear = probe.accuracy(flat(images), test_y)
            assert got[f"robustness/linear_probe_drop/{name}@{severity}"] == pytest.approx(
                got["robustness/linear_probe_accuracy"] - linear)
        assert got[f"robustness/knn_drop/{name}"] == pytest.approx(
            (got[f"robustness/knn_drop/{name}@1"] + got[f"robustness/knn_drop/{name}@3"]) / 2)
    drops = [v for k, v in got.items() if k.startswith("robustness/knn_drop/") and "@" in k]
    assert got["robustness/knn_drop/mean"] == pytest.approx(sum(drops) / len(drops))
    assert got["robustness/knn_drop/rotation@3"] > 0  # a 45-degree turn breaks pixel kNN on bars
    # precomputed embeddings, one set per input collection, give the same table
    embeddings = [ev.embed(flat, inputs) for inputs in ev.inputs]
    assert ev.evaluate_embeddings(*embeddings) == got


def test_corrupted_images_slice_with_their_start_as_seed():
    images, _ = stripes(10, 2)
    lazy = CorruptedImages(images, "gaussian_noise", 2, seed=7)
    assert len(lazy) == 10
    assert torch.equal(lazy[4:9], corrupt(images[4:9], "gaussian_noise", 2, seed=11))
    with pytest.raises(ValueError, match="index"):
        lazy[::2]


def test_bad_input_names_the_argument():
    x, y = stripes(20, 3)
    with pytest.raises(ValueError, match=r"corruption: unknown 'snow'"):
        RobustnessEvaluator(x, y, x, y, corruptions=("blur", "snow"))
    with pytest.raises(ValueError, match="severity"):
        RobustnessEvaluator(x, y, x, y, severities=(0,))
    with pytest.raises(ValueError, match="probes"):
        RobustnessEvaluator(x, y, x, y, probes=("svm",))
    with pytest.raises(ValueError, match="test_labels"):
        RobustnessEvaluator(x, y, x, y[:5])
