"""Input conversion and validation shared by the evaluation functions.

Every public function accepts torch tensors or NumPy arrays; these helpers turn them into tensors
(keeping the device of a tensor input) and raise ``ValueError`` naming the argument otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor

from ..validation import check_embeddings, check_positive_float

__all__ = [
    "as_embeddings", "as_labels", "as_vector", "check_ks", "check_positive_float", "check_positive_int",
    "check_same_dim",
]


def as_embeddings(name: str, x, *, min_rows: int = 1) -> Tensor:
    """A finite, floating, non-empty ``(N, d)`` tensor with ``N >= min_rows``."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    elif not isinstance(x, Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    check_embeddings(name, x.detach())
    if x.shape[0] < min_rows:
        raise ValueError(f"{name}: expected at least {min_rows} rows, got {x.shape[0]}")
    return x.detach()


def check_same_dim(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{name_b}: feature size {b.shape[1]} does not match {name_a}'s {a.shape[1]}")


def as_vector(name: str, v, n: int | None = None) -> np.ndarray:
    """A finite 1-D float64 array (of length ``n`` when given), non-empty."""
    if isinstance(v, Tensor):
        v = v.detach().cpu().numpy()
    try:
        v = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected numbers, got {type(v).__name__}") from err
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D sequence, got shape {v.shape}")
    if n is not None and v.shape[0] != n:
        raise ValueError(f"{name}: expected length {n}, got {v.shape[0]}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return v


def as_labels(name: str, y, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, codes)``: sorted distinct labels and each row's index into them, for a 1-D
    sequence of ``n`` labels of any orderable type (ints, strings)."""
    if isinstance(y, Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name}: expected a 1-D sequence of length {n}, got shape {y.shape}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    classes, codes = np.unique(y, return_inverse=True)
    return classes, codes.reshape(-1).astype(np.int64)


def check_positive_int(name: str, k, upper: int | None = None, upper_name: str = "") -> int:
    """An int ``1 <= k <= upper``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{name}: expected a positive int, got {k!r}")
    if upper is not None and k > upper:
        raise ValueError(f"{name}: {k} is larger than {upper_name} ({upper})")
    return int(k)


def check_ks(ks: Iterable[int], upper: int, upper_name: str) -> tuple[int, ...]:
    """Cut-offs as a tuple of distinct ints in ``1..upper``, in the given order."""
    if isinstance(ks, (int, np.integer)):
        ks = (ks,)
    ks = tuple(ks)
    if not ks:
        raise ValueError("ks: expected at least one cut-off")
    if len(set(ks)) != len(ks):
        raise ValueError(f"ks: repeated cut-offs in {ks}")
    return tuple(check_positive_int("ks", k, upper, upper_name) for k in ks)

