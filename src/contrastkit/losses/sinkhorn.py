r"""Sinkhorn-Knopp equipartition of a batch over prototypes (SwAV's online codes).

Caron et al., NeurIPS 2020, "Unsupervised Learning of Visual Features by Contrasting Cluster
Assignments", arXiv:2006.09882, Eq. 3 and Algorithm 1 (``distributed_sinkhorn`` of the official code):

.. math::
    Q = \mathrm{Diag}(u)\,\exp(C^{\top} Z / \varepsilon)\,\mathrm{Diag}(v)

with ``u, v`` found by alternately normalising the prototype rows (each to ``1/K``) and the sample
columns (each to ``1/B``), ``iterations`` times; the result is scaled so each sample's code sums to 1.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
from torch import Tensor

from ..scale.distributed import world_size


def check_sinkhorn_options(iterations: int, epsilon: float) -> None:
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"sinkhorn_iterations: expected an int >= 1, got {iterations!r}")
    if not (float(epsilon) > 0 and float(epsilon) < float("inf")):
        raise ValueError(f"sinkhorn_epsilon: expected a finite value > 0, got {epsilon!r}")


def _logsumexp(x: Tensor, dim: int | None, across_ranks: bool) -> Tensor:
    """``log sum exp`` over ``dim`` (every entry for ``None``, keepdim); with ``across_ranks`` the
    sum also runs over every rank's columns (max and sum all-reduced)."""
    dims = tuple(range(x.dim())) if dim is None else (dim,)
    peak = x.amax(dim=dims, keepdim=True)
    if across_ranks:
        dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    total = torch.exp(x - peak).sum(dim=dims, keepdim=True)
    if across_ranks:
        dist.all_reduce(total)
    return torch.log(total) + peak


@torch.no_grad()
def sinkhorn_knopp(scores: Tensor, iterations: int = 3, epsilon: float = 0.05,
                   gather_distributed: bool = False) -> Tensor:
    """Codes ``(B, K)`` (rows sum to 1) of prototype ``scores (B, K)``; with ``gather_distributed``
    the equipartition runs over every rank's rows (sums all-reduced). Computed in the log domain
    (the same iterates as the official code's exponentials, without their overflow or underflow),
    in float32 (float64 stays)."""
    check_sinkhorn_options(iterations, epsilon)
    dtype = torch.float64 if scores.dtype == torch.float64 else torch.float32
    across = gather_distributed and world_size() > 1
    log_q = (scores.detach().to(dtype) / epsilon).T  # (K, B)
    num_prototypes = log_q.shape[0]
    batch = torch.tensor(float(log_q.shape[1]), dtype=dtype, device=log_q.device)
    if across:
        dist.all_reduce(batch)
    log_k, log_b = math.log(num_prototypes), torch.log(batch)
    log_q = log_q - _logsumexp(log_q, None, across)
    for _ in range(iterations):
        log_q = log_q - _logsumexp(log_q, 1, across) - log_k  # each prototype's mass 1/K
        log_q = log_q - _logsumexp(log_q, 0, False) - log_b  # each sample's mass 1/B
    return torch.exp(log_q + log_b).T
