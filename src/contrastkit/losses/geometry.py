r"""Alignment and uniformity on the hypersphere (Wang & Isola, 2020, "Understanding Contrastive
Representation Learning through Alignment and Uniformity on the Hypersphere", arXiv:2005.10242,
Sec. 4.1), as differentiable losses.

Uniformity is streamed over square tiles of the pair matrix with a log-sum-exp per tile, and its
backward pass recomputes the tiles, so memory is ``O(N d + tile^2)`` for any ``N`` and the value
never underflows to ``-inf`` (it is bounded below by ``-4 t`` on the unit sphere).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._common import check_embeddings, check_positive_float, check_same_shape, normalize

DEFAULT_TILE = 1024


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
        ValueError: names the argument, for a bad shape, non-finite input or ``alpha <= 0``.
    """
    alpha = check_positive_float("alpha", alpha)
    check_embeddings("x", x)
    check_embeddings("y", y)
    check_same_shape("x", x, "y", y)
    x_hat, y_hat = normalize(x), normalize(y)
    squared = (x_hat - y_hat.to(x_hat.dtype)).pow(2).sum(dim=1)  # (N,)
    return squared.pow(alpha / 2).mean()


def uniformity(x: Tensor, t: float = 2, *, tile_size: int | None = None) -> Tensor:
    r"""Uniformity loss (Wang & Isola, 2020, arXiv:2005.10242, Eq. 5 in its empirical form).

    .. math::
        \mathcal{L}_{uniform} = \log \frac{2}{N(N-1)} \sum_{i<j} e^{-t \lVert \hat x_i - \hat x_j \rVert_2^2}
        = \operatorname{LSE}_{i<j}\big(2t(\langle \hat x_i, \hat x_j\rangle - 1)\big) - \log\tbinom{N}{2}

    computed with the second form (equal on the unit sphere) over tiles of ``tile_size`` rows and
    columns: ``O(N d + tile_size^2)`` memory in the forward and the backward pass.

    Args:
        x: embeddings, L2-normalised here.
        t: :math:`t > 0` (default 2).
        tile_size: rows and columns per tile (default 1024).
    Shapes:
        x ``(N, d)`` with ``N >= 2``, any floating dtype.
    Returns:
        0-d float32 tensor (float64 for float64 inputs), differentiable; always finite and
        ``>= -4 t``.
    Raises:
        ValueError: names the argument, for a bad shape, fewer than two rows, non-finite input,
        ``t <= 0`` or a bad ``tile_size``.
    """
    t = check_positive_float("t", t)
    check_embeddings("x", x)
    if x.shape[0] < 2:
        raise ValueError(f"x: uniformity needs at least 2 rows, got {x.shape[0]}")
    tile = DEFAULT_TILE if tile_size is None else tile_size
    if not isinstance(tile, int) or isinstance(tile, bool) or tile < 1:
        raise ValueError(f"tile_size: expected a positive int or None, got {tile_size!r}")
    n = x.shape[0]
    log_pairs = math.log(n) + math.log(n - 1) - math.log(2)
    return _PairLogSumExp.apply(normalize(x), 2.0 * t, tile) - log_pairs


def _tile_logits(x_hat: Tensor, rows: slice, cols: slice, scale: float) -> Tensor:
    """``scale * (<x_i, x_j> - 1)`` for one tile; its maximum 0 is reached only at ``x_i = x_j``."""
    return (x_hat[rows] @ x_hat[cols].T - 1.0) * scale  # (tile, tile)


def _strict_upper(logits: Tensor, fill: float) -> Tensor:
    """Keep ``j > i`` of a diagonal tile, set the rest to ``fill``."""
    keep = torch.ones_like(logits, dtype=torch.bool).triu(diagonal=1)
    return logits.masked_fill(~keep, fill)


class _PairLogSumExp(torch.autograd.Function):
    r""":math:`\log\sum_{i<j} e^{c(\langle x_i, x_j\rangle - 1)}` streamed over tiles.

    Gradient: :math:`\partial/\partial x_i = c \sum_{j\ne i} w_{ij} x_j` with
    :math:`w_{ij} = e^{c(\langle x_i, x_j\rangle - 1) - \mathrm{LSE}}` (each unordered pair feeds
    both of its rows), recomputed tile by tile.
    """

    @staticmethod
    def forward(ctx, x_hat: Tensor, scale: float, tile: int) -> Tensor:
        n = x_hat.shape[0]
        row_lses = []
        with torch.no_grad():
            for r0 in range(0, n, tile):
                rows = slice(r0, min(r0 + tile, n))
                tile_lses = []
                for c0 in range(r0, n, tile):
                    logits = _tile_logits(x_hat, rows, slice(c0, min(c0 + tile, n)), scale)
                    if c0 == r0:
                        logits = _strict_upper(logits, -math.inf)
                    tile_lses.append(torch.logsumexp(logits.reshape(-1), dim=0))
                row_lses.append(torch.logsumexp(torch.stack(tile_lses), dim=0))
            total = torch.logsumexp(torch.stack(row_lses), dim=0)
        ctx.save_for_backward(x_hat, total)
        ctx.scale, ctx.tile = scale, tile
        return total

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: Tensor):
        x_hat, total = ctx.saved_tensors
        scale, tile, n = ctx.scale, ctx.tile, x_hat.shape[0]
        grad = torch.zeros_like(x_hat)
        for r0 in range(0, n, tile):
            rows = slice(r0, min(r0 + tile, n))
            for c0 in range(0, n, tile):
                cols = slice(c0, min(c0 + tile, n))
                weights = torch.exp(_tile_logits(x_hat, rows, cols, scale) - total)
                if c0 == r0:
                    weights.fill_diagonal_(0.0)
                grad[rows] += weights @ x_hat[cols]
        return grad * (scale * grad_output), None, None
