"""The per-tile forward reductions and backward gradients of the streaming engine.

Both work on one tile of scaled logits ``s`` (``rows x cols``) and its pair masks (``None`` when
every pair is a negative). A *side* is the rows (reduced along ``dim=1``) or the columns
(``dim=0``) of the tile. The gradient of every statistic is elementwise in ``s``:

* ``lse`` over a set ``S`` with tilt ``g``: ``d/ds_ij = g * exp(g s_ij - lse_i)`` on ``S``;
* ``pos_sum``: ``1`` on positives; ``pair_sum``: ``-y_ij * sigmoid(-y_ij (s_ij + b))`` on kept pairs.

so a tile's ``dL/ds`` is a sum of such terms weighted by the incoming gradients.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._tiles import set_key, set_logits


class TileLogits:
    """Caches the set-restricted logits of one tile, shared by every statistic that needs them."""

    def __init__(self, s: Tensor, masks: tuple[Tensor, Tensor] | None):
        self.s, self.masks = s, masks
        self._cache: dict[tuple[str, float], Tensor | None] = {}

    def get(self, which: str, gamma: float) -> tuple[tuple[str, float], Tensor | None]:
        key = set_key(self.masks, which, gamma)
        if key not in self._cache:
            self._cache[key] = set_logits(self.s, self.masks, which, gamma)
        return key, self._cache[key]

    def pair_terms(self, bias: float) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """``t = -y (s + b)``, the sign ``-y`` (``None``: all ``+1``) and the kept mask (``None``: all)."""
        z = self.s + bias
        if self.masks is None:
            return z, None, None
        positive, negative = self.masks
        sign = torch.where(positive, -1.0, 1.0).to(z.dtype)
        return z * sign, sign, positive | negative


def _outer(row: Tensor | None, col: Tensor | None) -> Tensor:
    if row is None:
        return col.unsqueeze(0)
    if col is None:
        return row.unsqueeze(1)
    return row.unsqueeze(1) + col.unsqueeze(0)


def reduce_tile(tile: TileLogits, sides, bias: float) -> None:
    """Fold one tile into the accumulators of each ``(side, where, dim)`` in ``sides``."""
    shifted: dict[tuple[str, float], Tensor] = {}
    sums: dict[tuple[tuple[str, float], int], Tensor] = {}
    pair = None
    for side, where, dim in sides:
        for which, gamma, acc in side.lse.values():
            key, x = tile.get(which, gamma)
            if x is None:
                continue
            if acc.shift is None:
                acc.update(where, x, dim)
                continue
            if (key, dim) not in sums:
                if key not in shifted:
                    shifted[key] = torch.exp(x - acc.shift)
                sums[(key, dim)] = shifted[key].sum(dim)
            acc.add_shifted_sum(where, sums[(key, dim)])
        if tile.masks is not None:
            positive = tile.masks[0]
            if side.pos_sum is not None:
                side.pos_sum[where] += torch.where(positive, tile.s, 0.0).sum(dim)
            if side.pos_count is not None:
                side.pos_count[where] += positive.sum(dim).to(side.pos_count.dtype)
        if side.pair_sum is not None:
            if pair is None:
                t, _, kept = tile.pair_terms(bias)
                pair = torch.logaddexp(torch.zeros_like(t), t)  # exact softplus
                if kept is not None:
                    pair = pair.masked_fill_(~kept, 0.0)
            side.pair_sum[where] += pair.sum(dim)


def tile_gradient(tile: TileLogits, sides, bias: float, shift_of) -> tuple[Tensor | None, Tensor | None]:
    """``dL/ds`` of one tile (``None`` if nothing flows) and its part of ``dL/d bias``.

    ``sides`` holds ``(grads, where, dim)`` with :class:`SideGradients` ``grads``; ``shift_of(gamma)``
    is the fixed shift of a tilt (``None`` in online mode).
    """
    parts: list[Tensor] = []
    fixed: dict[tuple[str, float], list[Tensor | None]] = {}
    fixed_logits: dict[tuple[str, float], Tensor] = {}
    for grads, where, dim in sides:
        for which, gamma, coef, offset in grads.lse_terms:
            key, x = tile.get(which, gamma)
            if x is None:
                continue
            if offset is None:  # fixed shift: one exp per set, rows and columns together
                slot = fixed.setdefault(key, [None, None])
                side = int(dim == 0)
                slot[side] = coef[where] if slot[side] is None else slot[side] + coef[where]
                fixed_logits[key] = x
            else:
                e = torch.exp(x - offset[where].unsqueeze(dim))
                parts.append(e.mul_(coef[where].unsqueeze(dim)))
    for key, (row, col) in fixed.items():
        e = torch.exp(fixed_logits[key] - shift_of(key[1]))
        parts.append(e.mul_(_outer(row, col)))

    def coefficient(attr: str) -> Tensor | None:
        found = {dim: getattr(grads, attr)[where] for grads, where, dim in sides
                 if getattr(grads, attr) is not None}
        return None if not found else _outer(found.get(1), found.get(0))

    pos_coef = coefficient("pos_sum") if tile.masks is not None else None
    if pos_coef is not None:
        parts.append(tile.masks[0] * pos_coef)
    bias_grad = None
    pair_coef = coefficient("pair_sum")
    if pair_coef is not None:
        t, sign, kept = tile.pair_terms(bias)
        d = torch.sigmoid(t)
        if sign is not None:
            d = d.mul_(sign).masked_fill_(~kept, 0.0)
        d = d.mul_(pair_coef)
        bias_grad = d.sum()
        parts.append(d)
    if not parts:
        return None, bias_grad
    total = parts[0]
    for part in parts[1:]:
        total = total.add_(part)
    return total, bias_grad
