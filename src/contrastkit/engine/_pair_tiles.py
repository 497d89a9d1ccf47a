"""Fast path of the streaming engine for SigLIP's pairwise-sigmoid terms (``pair_sum`` alone).

On a tile of negatives (or an index-rule :class:`~._tiles.SparseTile`) with bounded logits, one
matmul of augmented operands gives ``x = s + bias`` directly (:class:`~._plain_tiles.ShiftedOperands`
with shift ``-bias``), written into a reused buffer; then in place:

* forward: ``softplus(x) = log1p(exp(x))`` (exact here: ``|x| <= LIMIT`` keeps ``exp`` finite), the
  positives corrected to ``softplus(-x) = softplus(x) - x``, the excluded pairs zeroed, row / column sums;
* backward: ``d/ds = sigmoid(x)`` on negatives, ``sigmoid(x) - 1`` on positives, 0 on excluded pairs,
  times the row and column coefficients; its sum is the tile's part of ``dL/d bias``.

Two element-wise passes per tile instead of the general path's masks, ``logaddexp`` and temporaries.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._plain_tiles import ShiftedOperands, TileBuffers

#: the largest ``|s + bias|`` for which ``exp`` is evaluated directly (float32 overflows near 88).
LIMIT = 60.0


def pair_fast_applicable(row_want: frozenset[str], col_want: frozenset[str], bound: float,
                         bias: float) -> bool:
    """Only ``pair_sum`` is asked for (rows and/or columns) and ``|s + bias|`` stays within LIMIT."""
    return bool(row_want | col_want) and (row_want | col_want) <= {"pair_sum"} and bound + abs(bias) <= LIMIT


def _logits(ops: ShiftedOperands, bounds, buffers: TileBuffers, bias: float) -> Tensor:
    r0, r1, c0, c1 = bounds
    return ops._product(1.0, -bias, bounds, buffers.get(0, r1 - r0, c1 - c0))  # scale * s + bias


def pair_forward(ops: ShiftedOperands, bounds, sides, buffers: TileBuffers, bias: float, sparse=None) -> None:
    """Fold a tile's ``softplus(-y (s + b))`` into each side's ``pair_sum``."""
    x = _logits(ops, bounds, buffers, bias)
    positive = None if sparse is None else sparse.positive
    at_positive = None if positive is None else x[positive].clone()
    e = x.exp_().log1p_()
    if positive is not None:
        e[positive] -= at_positive
    if sparse is not None and sparse.excluded is not None:
        e[sparse.excluded] = 0.0
    if sparse is not None and sparse.id_excluded is not None:
        e.masked_fill_(sparse.id_excluded, 0.0)
    sums: dict[int, Tensor] = {}
    for side, where, dim in sides:
        if side.pair_sum is not None:
            if dim not in sums:
                sums[dim] = e.sum(dim)
            side.pair_sum[where] += sums[dim]


def pair_gradient(ops: ShiftedOperands, bounds, sides, buffers: TileBuffers, bias: float,
                  sparse=None) -> tuple[Tensor | None, Tensor | None]:
    """``dL/ds`` of the tile and its part of ``dL/d bias`` (``None, None`` when nothing flows)."""
    coef = {dim: grads.pair_sum[where] for grads, where, dim in sides if grads.pair_sum is not None}
    if not coef:
        return None, None
    x = _logits(ops, bounds, buffers, bias)
    d = x.sigmoid_()
    if sparse is not None and sparse.positive is not None:
        d[sparse.positive] -= 1.0
    if sparse is not None and sparse.excluded is not None:
        d[sparse.excluded] = 0.0
    if sparse is not None and sparse.id_excluded is not None:
        d.masked_fill_(sparse.id_excluded, 0.0)
    if 1 in coef and 0 in coef:
        r0, r1, c0, c1 = bounds
        weight = torch.add(coef[1].unsqueeze(1), coef[0].unsqueeze(0), out=buffers.get(1, r1 - r0, c1 - c0))
    else:
        weight = coef[1].unsqueeze(1) if 1 in coef else coef[0].unsqueeze(0)
    d.mul_(weight)
    return d, d.sum()
