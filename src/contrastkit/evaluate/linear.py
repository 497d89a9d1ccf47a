r"""The linear probe: multinomial logistic regression on frozen embeddings, fitted once and scored
on any number of test sets (the clean test set, its corrupted copies).

The objective is scikit-learn's ``LogisticRegression(C=...)``; it is fitted by preconditioned
L-BFGS in torch, float32, warm-started along the ``C`` grid (see :mod:`._softmax_regression` for
the formula and why). Measured side by side with the previous scikit-learn fit in
``benchmarks/probe_speed.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from . import _softmax_regression as softmax_regression
from ._checks import as_embeddings, as_labels, check_positive_float
from .probes import _probe_inputs


@dataclass
class LinearProbe:
    """A fitted probe: ``classes`` (sorted training labels), the training rows' standardisation
    and the ``(d + 1, K)`` parameters; ``regularization`` is the chosen ``C``."""

    classes: np.ndarray
    mean: Tensor
    std: Tensor
    params: Tensor
    normalize: bool
    regularization: float

    def predict(self, x) -> np.ndarray:
        """Predicted labels (values of ``classes``) of the rows of ``x``."""
        x = as_embeddings("x", x)
        if x.shape[1] != self.mean.shape[0]:
            raise ValueError(f"x: feature size {x.shape[1]} does not match the probe's {self.mean.shape[0]}")
        z = (_features(x, self.normalize) - self.mean) / self.std
        return self.classes[softmax_regression.predict(self.params, z).numpy()]

    def accuracy(self, x, y) -> float:
        """Share of rows of ``x`` whose predicted label equals ``y`` (labels unseen in training
        count as errors)."""
        x = as_embeddings("x", x)
        classes, codes = as_labels("y", y, x.shape[0])
        return float(np.mean(self.predict(x) == classes[codes]))


def fit_linear_probe(train_x, train_y, *, regularization: Sequence[float] = (0.01, 0.1, 1.0, 10.0),
                     validation_fraction: float = 0.2, seed: int = 0, normalize: bool = True,
                     max_iter: int = 1000, label_fraction: float = 1.0) -> LinearProbe:
    r"""Fit the probe of :func:`linear_probe` on the training rows only."""
    from sklearn.model_selection import train_test_split

    train_x = as_embeddings("train_x", train_x)
    classes, codes = as_labels("train_y", train_y, train_x.shape[0])
    grid = tuple(check_positive_float("regularization", c) for c in regularization)
    if not grid:
        raise ValueError("regularization: expected at least one value of C")
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction: expected a value in (0, 1), got {validation_fraction}")
    keep = label_subset(codes, label_fraction, seed)
    features, codes = _features(train_x[torch.from_numpy(keep).to(train_x.device)], normalize), codes[keep]
    if classes.size < 2:
        raise ValueError(f"train_y: a probe needs at least 2 classes, got only {classes.tolist()}")
    best, init = grid[0], None
    if len(grid) > 1:
        stratify = codes if np.bincount(codes).min() >= 2 else None
        fit_index, val_index = train_test_split(
            np.arange(codes.size), test_size=validation_fraction, random_state=seed, stratify=stratify)
        if np.unique(codes[fit_index]).size < 2:
            raise ValueError("train_y: the held-out split leaves a single class; give more rows per class")
        mean, std = _moments(features[fit_index])
        fit_x, fit_codes = (features[fit_index] - mean) / std, torch.from_numpy(codes[fit_index])
        path = softmax_regression.fit_path(fit_x, fit_codes, classes.size, grid, max_iter=max_iter)
        val_x, val_codes = (features[val_index] - mean) / std, torch.from_numpy(codes[val_index])
        accuracies = [float((softmax_regression.predict(path[c], val_x) == val_codes).double().mean())
                      for c in grid]
        best = grid[int(np.argmax(accuracies))]
        init = path[best]  # the refit on all rows starts from the held-out fit of the same C
    mean, std = _moments(features)
    params = softmax_regression.fit((features - mean) / std, torch.from_numpy(codes), classes.size, best,
                                    init=init, max_iter=max_iter)
    return LinearProbe(classes, mean, std, params, normalize, best)


def linear_probe(train_x, train_y, test_x, test_y, *,
                 regularization: Sequence[float] = (0.01, 0.1, 1.0, 10.0),
                 validation_fraction: float = 0.2, seed: int = 0, normalize: bool = True,
                 max_iter: int = 1000, label_fraction: float = 1.0) -> float:
    r"""Linear-probe test accuracy: multinomial logistic regression on frozen embeddings.

    Rows are L2-normalised (``normalize=True``) and standardised with statistics of the training
    rows. The inverse regularisation strength ``C`` is chosen from ``regularization`` by accuracy on
    a held-out, stratified ``validation_fraction`` of the training rows (split with ``seed``; first
    best ``C`` wins); the probe is then refitted on all training rows and scored on the test rows.

    ``label_fraction < 1`` is the few-label setting: only a stratified, seeded share of the
    training rows (:func:`label_subset`) is labelled and used; the test rows are unchanged.

    Raises:
        ValueError: mismatched lengths or feature sizes, empty or non-finite input, fewer than two
        training classes, ``label_fraction`` outside (0, 1], a held-out split with one class.
    """
    train_x, _, test_x, _ = _probe_inputs(train_x, train_y, test_x, test_y)
    probe = fit_linear_probe(train_x, train_y, regularization=regularization,
                             validation_fraction=validation_fraction, seed=seed, normalize=normalize,
                             max_iter=max_iter, label_fraction=label_fraction)
    return probe.accuracy(test_x, test_y)


def label_subset(codes: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Sorted indices of a stratified, seeded ``fraction`` of the rows: each class keeps
    ``max(1, round(fraction * n_c))`` of its ``n_c`` rows (all of them when ``fraction == 1``)."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(f"label_fraction: expected a value in (0, 1], got {fraction!r}")
    codes = np.asarray(codes)
    if fraction == 1:
        return np.arange(codes.size)
    rng = np.random.default_rng(seed)
    kept = [rng.permutation(np.flatnonzero(codes == c))[:max(1, round(fraction * np.sum(codes == c)))]
            for c in np.unique(codes)]
    return np.sort(np.concatenate(kept))


def _features(x: Tensor, normalize: bool) -> Tensor:
    """Float32 CPU rows, L2-normalised (in float64 first) when ``normalize``."""
    x = x.to(torch.float64)
    if normalize:
        x = F.normalize(x, dim=1, eps=1e-12)
    return x.to(device="cpu", dtype=torch.float32)


def _moments(x: Tensor) -> tuple[Tensor, Tensor]:
    """Column mean and (population) standard deviation, a zero deviation replaced by 1."""
    std = x.std(dim=0, unbiased=False)
    return x.mean(dim=0), torch.where(std > 0, std, torch.ones_like(std))
