"""Input checks shared across subpackages (losses, evaluation): each raises ``ValueError`` naming
the argument. Depends on torch only, so any layer may import it."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def check_embeddings(name: str, x: Tensor, ndim: int = 2) -> Tensor:
    """Raise ``ValueError`` naming ``name`` unless ``x`` is a finite floating tensor of rank ``ndim``."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D tensor, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a floating dtype, got {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty tensor, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return x


def check_positive_float(name: str, value: float) -> float:
    """``float(value)``, or ``ValueError`` naming ``name`` unless it is finite and ``> 0``."""
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a finite value > 0, got {value}")
    return value
