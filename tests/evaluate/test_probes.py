"""kNN, linear and nearest-class-mean probes against naive references and scikit-learn."""

import math

import numpy as np
import pytest
import torch

from contrastkit.evaluate import knn_accuracy, linear_probe, nearest_class_mean_probe
from tests.helpers import randint, randn


def ref_knn_predictions(train_x, train_y, test_x, k, tau):
    """InstDisc weighted vote, one test row at a time in float64, neighbours by (-cos, index)."""
    tr = train_x / np.linalg.norm(train_x, axis=1, keepdims=True)
    te = test_x / np.linalg.norm(test_x, axis=1, keepdims=True)
    predictions = []
    for q in te:
        sims = tr @ q
        neighbours = sorted(range(len(tr)), key=lambda j: (-sims[j], j))[:k]
        votes = {}
        for j in neighbours:
            votes[train_y[j]] = votes.get(train_y[j], 0.0) + math.exp(sims[j] / tau)
        best = max(votes.values())
        predictions.append(min(c for c, v in votes.items() if v == best))
    return np.array(predictions)


def clustered(n, d, classes, seed, spread=1.0):
    centers = randn(classes, d, seed=100).numpy() * 2
    y = randint(classes, n, seed=seed).numpy()
    return centers[y] + spread * randn(n, d, seed=seed + 1).numpy(), y


@pytest.mark.parametrize("k, chunk", [(1, None), (5, 1), (20, 7), (60, None)])
def test_knn_matches_reference(k, chunk):
    train_x, train_y = clustered(60, 5, 4, seed=1, spread=2.0)
    test_x, test_y = clustered(30, 5, 4, seed=3, spread=2.0)
    expected = np.mean(ref_knn_predictions(train_x, train_y, test_x, k, 0.1) == test_y)
    ours = knn_accuracy(torch.from_numpy(train_x), torch.from_numpy(train_y), test_x, test_y, k=k,
                        temperature=0.1, chunk_size=chunk)
    assert 0 < expected < 1 and ours == expected


def test_knn_ties_go_to_the_lower_training_index():
    train_x = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])  # rows 0 and 1 tie for every query
    test_x = np.array([[1.0, 0.0]])
    assert knn_accuracy(train_x, ["cat", "dog", "dog"], test_x, ["cat"], k=1) == 1.0
    assert knn_accuracy(train_x, ["dog", "cat", "dog"], test_x, ["dog"], k=1) == 1.0
    # k = 2: one vote each, equal weights: the class tie goes to the smaller label
    assert knn_accuracy(train_x, [5, 3, 5], test_x, [3], k=2) == 1.0


def test_knn_faiss_backend_equals_exact():
    pytest.importorskip("faiss")
    train_x, train_y = clustered(200, 8, 5, seed=5, spread=2.5)
    test_x, test_y = clustered(80, 8, 5, seed=7, spread=2.5)
    exact = knn_accuracy(train_x, train_y, test_x, test_y, k=10)
    assert knn_accuracy(train_x, train_y, test_x, test_y, k=10, backend="faiss") == exact


def ref_linear_probe(train_x, train_y, test_x, test_y, grid, seed):
    """The documented protocol written directly with scikit-learn."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer, StandardScaler

    def model(c):
        return make_pipeline(Normalizer(), StandardScaler(),
                             LogisticRegression(C=c, max_iter=1000, random_state=seed))

    fx, vx, fy, vy = train_test_split(train_x, train_y, test_size=0.2, random_state=seed, stratify=train_y)
    scores = [model(c).fit(fx, fy).score(vx, vy) for c in grid]
    return model(grid[int(np.argmax(scores))]).fit(train_x, train_y).score(test_x, test_y)


def test_linear_probe_matches_scikit_learn():
    train_x, train_y = clustered(150, 6, 3, seed=11, spread=2.5)
    test_x, test_y = clustered(60, 6, 3, seed=13, spread=2.5)
    grid = (0.01, 0.1, 1.0)
    expected = ref_linear_probe(train_x, train_y, test_x, test_y, grid, seed=0)
    ours = linear_probe(torch.from_numpy(train_x).float(), train_y, test_x, test_y, regularization=grid)
    assert 0.4 < expected < 1
    assert math.isclose(ours, expected, abs_tol=1 / 60 + 1e-12)  # float32 input may flip one row
    assert linear_probe(train_x, train_y, test_x, test_y, regularization=grid) == pytest.approx(expected)


def test_linear_probe_separable_and_seeded():
    x = np.array([[1.0, 0.1], [1.0, -0.1], [0.9, 0.0], [-1.0, 0.1], [-1.0, -0.1], [-0.9, 0.0]] * 4)
    y = np.array([0, 0, 0, 1, 1, 1] * 4)
    assert linear_probe(x, y, -x, 1 - y) == 1.0
    a = linear_probe(*clustered(80, 4, 3, seed=2, spread=3.0), *clustered(40, 4, 3, seed=4, spread=3.0))
    b = linear_probe(*clustered(80, 4, 3, seed=2, spread=3.0), *clustered(40, 4, 3, seed=4, spread=3.0))
    assert a == b


def test_nearest_class_mean_matches_reference():
    train_x, train_y = clustered(90, 5, 3, seed=21, spread=3.0)
    test_x, test_y = clustered(40, 5, 3, seed=23, spread=3.0)
    for normalize in (True, False):
        tr = train_x / np.linalg.norm(train_x, axis=1, keepdims=True) if normalize else train_x
        te = test_x / np.linalg.norm(test_x, axis=1, keepdims=True) if normalize else test_x
        means = np.stack([tr[train_y == c].mean(0) for c in range(3)])
        expected = np.mean((te @ means.T).argmax(1) == test_y)
        assert nearest_class_mean_probe(train_x, train_y, test_x, test_y, normalize=normalize) == expected


def test_unseen_test_labels_count_as_errors():
    x = np.eye(2)
    assert knn_accuracy(x, [0, 1], x, [0, 7], k=1) == 0.5
    assert nearest_class_mean_probe(x, [0, 1], x, [0, 7]) == 0.5


PROBES = [
    lambda *a, **kw: knn_accuracy(*a, k=2, **kw),
    lambda *a, **kw: linear_probe(*a, **kw),
    lambda *a, **kw: nearest_class_mean_probe(*a, **kw),
]


@pytest.mark.parametrize("probe", PROBES)
@pytest.mark.parametrize("args, match", [
    ((randn(6, 3), [0, 1] * 3, randn(4, 3), [0, 1] * 2), None),
    ((randn(6, 3), [0, 1] * 2, randn(4, 3), [0, 1] * 2), "train_y"),
    ((randn(6, 3), [0, 1] * 3, randn(4, 3), [0, 1]), "test_y"),
    ((randn(6, 3), [1] * 6, randn(4, 3), [1] * 4), "train_y"),
    ((randn(6, 3), [0, 1] * 3, randn(4, 2), [0, 1] * 2), "test_x"),
    ((randn(0, 3), [], randn(4, 3), [0, 1] * 2), "train_x"),
    ((randn(6, 3), [0, 1] * 3, np.full((4, 3), np.nan), [0, 1] * 2), "test_x"),
    ((randn(6, 3), [0, 1] * 3, randn(4), [0, 1] * 2), "test_x"),
])
def test_probe_bad_input(probe, args, match):
    if match is None:  # the valid call of the table runs; on separable data: 1.0, labels swapped: 0.0
        probe(*args)
        x = torch.tensor([[1.0, 0.1], [0.9, -0.1], [1.1, 0.0], [-1.0, 0.1], [-0.9, -0.1], [-1.1, 0.0]])
        y = [0, 0, 0, 1, 1, 1]
        assert probe(x, y, x[[0, 3]] * 2, [0, 1]) == 1.0
        assert probe(x, y, x[[0, 3]] * 2, [1, 0]) == 0.0
        assert probe(x, y, x[[0, 1, 3, 4]], [0, 1, 1, 1]) == 0.75
        return
    with pytest.raises(ValueError, match=match):
        probe(*args)


def test_knn_k_larger_than_training_set():
    with pytest.raises(ValueError, match="k"):
        knn_accuracy(randn(5, 3), [0, 1, 0, 1, 0], randn(2, 3), [0, 1], k=6)
    with pytest.raises(ValueError, match="temperature"):
        knn_accuracy(randn(5, 3), [0, 1, 0, 1, 0], randn(2, 3), [0, 1], k=2, temperature=0)
    with pytest.raises(ValueError, match="backend"):
        knn_accuracy(randn(5, 3), [0, 1, 0, 1, 0], randn(2, 3), [0, 1], k=2, backend="annoy")


@pytest.mark.gpu
def test_knn_on_cuda():
    train_x, train_y = clustered(60, 5, 4, seed=1, spread=2.0)
    test_x, test_y = clustered(30, 5, 4, seed=3, spread=2.0)
    expected = knn_accuracy(train_x, train_y, test_x, test_y, k=5)
    got = knn_accuracy(torch.from_numpy(train_x).cuda(), torch.from_numpy(train_y).cuda(),
                       torch.from_numpy(test_x).cuda(), torch.from_numpy(test_y).cuda(), k=5)
    assert got == expected
