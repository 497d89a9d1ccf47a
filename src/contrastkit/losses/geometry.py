r"""Alignment and uniformity on the hypersphere (Wang & Isola, 2020, "Understanding Contrastive
Representation Learning through Alignment and Uniformity on the Hypersphere", arXiv:2005.10242,
Sec. 4.1), as differentiable losses.

Uniformity is one statistic of the engine (``lse_all`` over ``j != i`` at scale ``2t``): for large
``N`` the streaming backend walks tiles and recomputes them in the backward pass, so memory is
``O(N d + tile^2)`` for any ``N``, and the max-subtracted log-sum-exp never underflows to ``-inf``
(the value is bounded below by ``-4 t`` on the unit sphere).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..engine import PairStructure, pair_statistics
from ._common import check_embeddings, check_positive_float, check_same_shape, normalize

#: rows with a smaller L2 norm count as zero: ``normalize`` cannot put them on the sphere
ZERO_NORM = 1e-12


def check_nonzero_rows(name: str, x: Tensor) -> None:
    """Raise ``ValueError`` naming ``name`` and the first row whose norm is ``<= ZERO_NORM``: a zero
    embedding has no direction, and scoring it as a unit vector makes a collapsed encoder look
    perfect (uniformity ``-4t``, alignment 0)."""
    # ||x_i|| <= 1e-12 needs max|x_ij| <= 1e-12: only such rows get an exact float64 norm (no copy of x)
    suspects = (x.detach().abs().amax(dim=-1) <= ZERO_NORM).nonzero().flatten()
    norms = x.detach()[suspects].to(torch.float64).norm(dim=-1)
    zero = suspects[norms <= ZERO_NORM]
    if len(zero):
        raise ValueError(f"{name}: row {int(zero[0])} has zero norm (<= {ZERO_NORM:g}); "
                         "a zero embedding has no direction, the metric is undefined")


def alignment(x: Tensor, y: Tensor, alpha: float = 2) -> Tensor:
    r"""Alignment loss (Wang & Isola, 2020, arXiv:2005.10242, Eq. 4 in its empirical form).

    .. math::
        \mathcal{L}_{align} = \frac{1}{N}\sum_{i=1}^{N} \lVert \hat x_i - \hat y_i \rVert_2^{\alpha}

    Args:
        x, y: positive pairs, row ``i`` of ``x`` with row ``i`` of ``y``; L2-normalised here.
        alpha: :math:`\alpha > 0` (default 2).
    Shapes:
        x ``(N, d)``, y ``(N, d)``, any floating dtype.
    Returns:
        0-d float32 tensor (float64 for float64 inputs), differentiable.
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, a zero row or
        ``alpha <= 0``.
    """
    alpha = check_positive_float("alpha", alpha)
    check_embeddings("x", x)
    check_embeddings("y", y)
    check_same_shape("x", x, "y", y)
    check_nonzero_rows("x", x)
    check_nonzero_rows("y", y)
    x_hat, y_hat = normalize(x), normalize(y)
    squared = (x_hat - y_hat.to(x_hat.dtype)).pow(2).sum(dim=1)  # (N,)
    # r^alpha has an infinite slope at r = 0 for alpha < 2 (NaN through the chain rule): a pair
    # that already coincides is at the minimum, so clamp it to the smallest normal number (zero
    # gradient there; the value changes by at most tiny^(alpha/2))
    return squared.clamp(min=torch.finfo(squared.dtype).tiny).pow(alpha / 2).mean()


def uniformity(x: Tensor, t: float = 2, *, tile_size: int | None = None) -> Tensor:
    r"""Uniformity loss (Wang & Isola, 2020, arXiv:2005.10242, Eq. 5 in its empirical form).

    .. math::
        \mathcal{L}_{uniform} = \log \frac{2}{N(N-1)} \sum_{i<j} e^{-t \lVert \hat x_i - \hat x_j \rVert_2^2}
        = \operatorname{LSE}_{i<j}\big(2t(\langle \hat x_i, \hat x_j\rangle - 1)\big) - \log\tbinom{N}{2}

    computed with the second form (equal on the unit sphere) from the engine's per-row
    :math:`\mathrm{lse}_i = \log\sum_{j\ne i} e^{2t\langle \hat x_i, \hat x_j\rangle}`: the sum over
    ordered pairs is twice the sum over ``i < j``, so
    :math:`\mathcal{L} = \operatorname{LSE}_i(\mathrm{lse}_i) - 2t - \log N(N-1)`.

    Args:
        x: embeddings, L2-normalised here.
        t: :math:`t > 0` (default 2).
        tile_size: rows and columns per tile; given, it forces the streaming backend (default:
            the engine's automatic choice by memory).
    Shapes:
        x ``(N, d)`` with ``N >= 2``, any floating dtype.
    Returns:
        0-d float32 tensor (float64 for float64 inputs), differentiable; always finite and
        ``>= -4 t``.
    Raises:
        ValueError: names the argument, for a bad shape, fewer than two rows, non-finite input,
        a zero row (norm ``<= 1e-12``), ``t <= 0`` or a bad ``tile_size``.
    """
    t = check_positive_float("t", t)
    check_embeddings("x", x)
    if x.shape[0] < 2:
        raise ValueError(f"x: uniformity needs at least 2 rows, got {x.shape[0]}")
    check_nonzero_rows("x", x)
    if tile_size is not None and (not isinstance(tile_size, int) or isinstance(tile_size, bool)
                                  or tile_size < 1):
        raise ValueError(f"tile_size: expected a positive int or None, got {tile_size!r}")
    n = x.shape[0]
    x_hat = normalize(x)
    rows = PairStructure(n, n, self_index=torch.arange(n, device=x.device))
    stats = pair_statistics(x_hat, x_hat, rows, {"lse_all"}, scale=2.0 * t,
                            backend="auto" if tile_size is None else "streaming", tile_size=tile_size)
    return torch.logsumexp(stats.lse_all, dim=0) - 2.0 * t - math.log(n) - math.log(n - 1)
