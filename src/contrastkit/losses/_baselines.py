"""Shared pieces of the non-contrastive baselines (Barlow Twins, VICReg): two-view input checks,
non-negative coefficients, and the cross-process batch."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..engine import accumulation_dtype
from ..scale.distributed import gather_rows
from ..validation import check_embeddings


def check_coefficient(name: str, value: float) -> float:
    """A finite float ``>= 0`` (a loss weight), else ``ValueError`` naming ``name``."""
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: expected a finite value >= 0, got {value}")
    return value


def two_batches(z1: Tensor, z2: Tensor, gather_distributed: bool) -> tuple[Tensor, Tensor]:
    """Validate ``z1, z2`` (``(N, D)``, same shape, finite) and return them in the accumulation dtype;
    with ``gather_distributed`` every rank's rows, gathered with gradient (batch statistics are then
    those of the global batch; each rank's input gradient is the sum over ranks, so DDP's average
    gives the full-batch gradient). ``N >= 2`` is required of the batch the statistics use."""
    check_embeddings("z1", z1)
    check_embeddings("z2", z2)
    if z1.shape != z2.shape:
        raise ValueError(f"z2: shape {tuple(z2.shape)} does not match z1's {tuple(z1.shape)}")
    dtype = torch.promote_types(accumulation_dtype(z1), accumulation_dtype(z2))
    a, b = z1.to(dtype), z2.to(dtype)
    if gather_distributed:
        (a, b), _ = gather_rows(a, b)
    if a.shape[0] < 2:
        raise ValueError(f"z1: expected at least 2 rows (batch statistics need them), got {a.shape[0]}")
    return a, b
