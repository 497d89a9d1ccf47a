"""AUROC against scikit-learn and kNN anomaly scores against a naive loop."""

import math

import numpy as np
import pytest

from contrastkit.evaluate import anomaly_auroc, auroc, knn_anomaly_scores, one_class_auroc
from tests.helpers import randint, randn

metrics = pytest.importorskip("sklearn.metrics")


def test_auroc_matches_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.standard_normal(200) + labels, 1)  # many tied scores
    assert math.isclose(auroc(scores, labels), metrics.roc_auc_score(labels, scores), rel_tol=1e-12)
    assert auroc([0.1, 0.2, 0.3], [0, 0, 1]) == 1.0
    assert auroc([0.3, 0.2, 0.1], [False, False, True]) == 0.0
    assert auroc([1.0, 1.0], [0, 1]) == 0.5


def ref_knn_scores(train, test, k):
    tr = train / np.linalg.norm(train, axis=1, keepdims=True)
    te = test / np.linalg.norm(test, axis=1, keepdims=True)
    return np.array([np.mean(np.sort(1 - tr @ q)[:k]) for q in te])


@pytest.mark.parametrize("k, chunk", [(1, None), (2, 3), (10, 1)])
def test_knn_scores_and_auroc(k, chunk):
    train, test = randn(30, 5, seed=1).numpy(), randn(20, 5, seed=2).numpy()
    labels = randint(2, 20, seed=3).numpy()
    np.testing.assert_allclose(knn_anomaly_scores(train, test, k, chunk_size=chunk),
                               ref_knn_scores(train, test, k), rtol=1e-6, atol=1e-6)
    assert math.isclose(anomaly_auroc(train, test, labels, k),
                        metrics.roc_auc_score(labels, ref_knn_scores(train, test, k)), abs_tol=1e-12)


def test_one_class_auroc_per_class_and_mean():
    centers = 3 * randn(3, 4, seed=9).numpy()
    train_y, test_y = randint(3, 60, seed=4).numpy(), randint(3, 30, seed=5).numpy()
    train = centers[train_y] + randn(60, 4, seed=6).numpy()
    test = centers[test_y] + randn(30, 4, seed=7).numpy()
    got = one_class_auroc(train, train_y, test, test_y, k=2)
    expected = {f"class_{c}": metrics.roc_auc_score(test_y != c, ref_knn_scores(train[train_y == c], test, 2))
                for c in range(3)}
    assert got.keys() == {*expected, "mean"}
    for key, value in expected.items():
        assert math.isclose(got[key], value, abs_tol=1e-12)
    assert math.isclose(got["mean"], np.mean(list(expected.values())))
    assert got["mean"] > 0.8


@pytest.mark.parametrize("call, match", [
    (lambda: auroc([0.1, 0.2], [0, 1, 1]), "labels"),
    (lambda: auroc([0.1, 0.2], [1, 1]), "labels"),
    (lambda: auroc([0.1, 0.2], [0, 2]), "labels"),
    (lambda: auroc([], []), "scores"),
    (lambda: auroc([0.1, float("nan")], [0, 1]), "scores"),
    (lambda: knn_anomaly_scores(randn(3, 2), randn(4, 2), k=4), "k"),
    (lambda: knn_anomaly_scores(randn(3, 2), randn(4, 3)), "test_x"),
    (lambda: one_class_auroc(randn(4, 2), [0, 0, 1, 1], randn(2, 2), [0, 0]), "test_y"),
    (lambda: one_class_auroc(randn(4, 2), [0, 0, 0, 1], randn(2, 2), [0, 1], k=2), "k"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
