"""Rank and correlation helpers in float64 NumPy (no SciPy needed at run time)."""

from __future__ import annotations

import numpy as np


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks ``1..n`` of ``values``; tied values share the mean of the ranks they span."""
    n = values.size
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(ordered)) + 1])
    ends = np.concatenate([starts[1:], [n]])
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def pearson(x: np.ndarray, y: np.ndarray, name_x: str, name_y: str) -> float:
    """Pearson correlation; ``ValueError`` naming the input that is constant (undefined)."""
    for name, v in ((name_x, x), (name_y, y)):
        if np.all(v == v[0]):
            raise ValueError(f"{name}: all values are equal, the correlation is undefined")
    x, y = x - x.mean(), y - y.mean()
    r = float((x @ y) / np.sqrt((x @ x) * (y @ y)))
    return min(1.0, max(-1.0, r))
