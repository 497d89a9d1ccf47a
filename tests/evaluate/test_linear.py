"""The torch linear probe: scikit-learn's objective and optimum, fit once / score many, few labels."""

import numpy as np
import pytest
import torch

from contrastkit.evaluate import ProbeEvaluator, fit_linear_probe, label_subset, linear_probe
from contrastkit.evaluate import _softmax_regression as softmax_regression
from tests.evaluate.test_probes import clustered


def objective(params, x, y, c):
    """scikit-learn's penalised log-loss divided by n, in float64 NumPy."""
    weights, bias = params[:-1], params[-1]
    logits = x @ weights + bias
    logits = logits - logits.max(axis=1, keepdims=True)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_softmax[np.arange(len(y)), y].mean() + (weights**2).sum() / (2 * c * len(y))


def test_fit_reaches_scikit_learns_optimum():
    """Same objective as ``LogisticRegression(C)``: our fit's objective is within 1e-6 of
    scikit-learn's converged optimum (float64 reference), for strong and weak penalties, and the
    weights agree to the stopping tolerance."""
    from sklearn.linear_model import LogisticRegression

    x, y = clustered(120, 5, 3, seed=31, spread=2.0)
    x = (x - x.mean(0)) / x.std(0)
    for c in (0.01, 1.0):
        reference = LogisticRegression(C=c, tol=1e-10, max_iter=10_000).fit(x, y)
        theirs = np.vstack([reference.coef_.T, reference.intercept_])
        ours = softmax_regression.fit(torch.from_numpy(x), torch.from_numpy(y), 3, c).numpy()
        assert objective(ours, x, y, c) == pytest.approx(objective(theirs, x, y, c), abs=1e-6)
        centre = lambda m: m - m.mean(axis=1, keepdims=True)  # noqa: E731  (softmax: defined up to a shift)
        assert np.allclose(centre(ours), centre(theirs), atol=5e-3)


def test_warm_started_path_equals_cold_fits():
    x, y = clustered(150, 6, 4, seed=41, spread=2.5)
    x, y = torch.from_numpy((x - x.mean(0)) / x.std(0)).float(), torch.from_numpy(y)
    path = softmax_regression.fit_path(x, y, 4, (10.0, 0.1, 1.0))
    for c, params in path.items():
        cold = softmax_regression.fit(x, y, 4, c)
        assert torch.equal(softmax_regression.predict(params, x), softmax_regression.predict(cold, x))


def test_fitted_probe_scores_many_test_sets_like_the_function():
    train_x, train_y = clustered(120, 6, 3, seed=11, spread=2.5)
    test_x, test_y = clustered(60, 6, 3, seed=13, spread=2.5)
    probe = fit_linear_probe(train_x, train_y)
    assert probe.accuracy(test_x, test_y) == linear_probe(train_x, train_y, test_x, test_y)
    assert probe.regularization in (0.01, 0.1, 1.0, 10.0)
    assert set(probe.predict(test_x)) <= {0, 1, 2}
    words = np.array(["a", "b", "c"])[train_y]  # any orderable labels come back as themselves
    assert set(fit_linear_probe(train_x, words).predict(test_x)) <= {"a", "b", "c"}


def test_label_subset_is_stratified_seeded_and_checked():
    codes = np.repeat(np.arange(4), [100, 50, 10, 3])
    kept = label_subset(codes, 0.1, seed=0)
    assert np.bincount(codes[kept]).tolist() == [10, 5, 1, 1]  # at least one row per class
    assert np.array_equal(kept, label_subset(codes, 0.1, seed=0))
    assert not np.array_equal(kept, label_subset(codes, 0.1, seed=1))
    assert np.array_equal(label_subset(codes, 1.0), np.arange(codes.size))
    for bad in (0, -0.1, 1.5, True, "0.1"):
        with pytest.raises(ValueError, match=r"label_fraction: expected a value in \(0, 1\]"):
            label_subset(codes, bad)


def test_few_label_probe_uses_only_its_share():
    """With 1 labelled row per class the probe is nearest-to-that-row-like and worse than with all."""
    train_x, train_y = clustered(400, 8, 4, seed=51, spread=4.0)
    test_x, test_y = clustered(200, 8, 4, seed=53, spread=4.0)
    full = linear_probe(train_x, train_y, test_x, test_y)
    few = linear_probe(train_x, train_y, test_x, test_y, label_fraction=0.01)
    keep = label_subset(train_y, 0.01)
    assert few == linear_probe(train_x[keep], train_y[keep], test_x, test_y)
    assert few < full
    with pytest.raises(ValueError, match="label_fraction"):
        linear_probe(train_x, train_y, test_x, test_y, label_fraction=0.0)


def test_probe_evaluator_few_label_keys():
    train_x, train_y = clustered(200, 5, 3, seed=61, spread=2.0)
    test_x, test_y = clustered(50, 5, 3, seed=63, spread=2.0)
    ev = ProbeEvaluator(train_x, train_y, test_x, test_y, probes=("linear",), label_fractions=(0.1, 1.0))
    got = ev.evaluate_embeddings(torch.from_numpy(train_x), torch.from_numpy(test_x))
    assert got == {
        "probe/linear_probe_accuracy": linear_probe(train_x, train_y, test_x, test_y),
        "probe/linear_probe_accuracy@0.1": linear_probe(train_x, train_y, test_x, test_y, label_fraction=0.1),
        "probe/linear_probe_accuracy@1": linear_probe(train_x, train_y, test_x, test_y),
    }
    with pytest.raises(ValueError, match="label_fraction"):
        ProbeEvaluator(train_x, train_y, test_x, test_y, label_fractions=(2.0,))
