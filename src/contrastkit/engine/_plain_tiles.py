"""Fast path of the streaming engine for the commonest tile: every pair a negative, fixed shift.

Most tiles of a diagonal or two-view structure hold no special pair, and for normalised embeddings
at a moderate temperature every log-sum-exp uses a fixed shift (see :mod:`._tiles`). Such a tile
needs, per tilt ``g``, one fused ``exp(g * scale * A C^T - shift)`` written into a reused buffer, and
its row and column sums; its gradient is that same buffer times ``row_coef_i + col_coef_j``. No
mask, no temporary ``N x M`` tensor, no allocation per tile.
"""

from __future__ import annotations

import torch
from torch import Tensor


class TileBuffers:
    """Reusable ``rows x cols`` scratch buffers (views of flat storage, so edge tiles stay contiguous)."""

    def __init__(self, rows: int, cols: int, dtype: torch.dtype, device: torch.device):
        self._size, self._dtype, self._device = rows * cols, dtype, device
        self._flat: dict[int, Tensor] = {}

    def get(self, index: int, rows: int, cols: int) -> Tensor:
        """Buffer ``index`` (allocated on first use) viewed as ``rows x cols``."""
        if index not in self._flat:
            self._flat[index] = torch.empty(self._size, dtype=self._dtype, device=self._device)
        return self._flat[index][: rows * cols].view(rows, cols)


def plain_gammas(sides) -> list[float]:
    """The distinct tilts of the log-sum-exp terms that are non-empty on a tile of negatives."""
    out: list[float] = []
    for side, _, _ in sides:
        for which, gamma, *_ in _terms(side):
            if which != "pos" and gamma not in out:
                out.append(gamma)
    return out


def _terms(side):
    return side.lse.values() if hasattr(side, "lse") else side.lse_terms


class ShiftedOperands:
    """Row blocks ``[g * scale * A, -shift]`` and column blocks ``[C, 1]``: one matmul of them gives
    ``g * scale * <a_i, c_j> - shift`` directly, with no pass over the tile to scale and shift it.
    Blocks are built per tile (``O(tile * d)`` memory, ``1/tile`` of the matmul's traffic)."""

    def __init__(self, a: Tensor, c: Tensor, scale: float, shift_of):
        self.a, self.c, self.scale, self.shift_of = a, c, scale, shift_of
        self._rows: tuple | None = None

    def _row_block(self, gamma: float, shift: float, r0: int, r1: int) -> Tensor:
        if self._rows is None or self._rows[0] != (gamma, shift, r0, r1):
            a = self.a[r0:r1]
            offset = torch.full((a.shape[0], 1), -shift, dtype=a.dtype, device=a.device)
            self._rows = ((gamma, shift, r0, r1), torch.cat([a * (gamma * self.scale), offset], 1))
        return self._rows[1]

    def _product(self, gamma: float, shift: float, bounds, out: Tensor) -> Tensor:
        r0, r1, c0, c1 = bounds
        c = self.c[c0:c1]
        c = torch.cat([c, torch.ones(c.shape[0], 1, dtype=c.dtype, device=c.device)], 1)
        return torch.mm(self._row_block(gamma, shift, r0, r1), c.T, out=out)

    def tile_exps(self, gammas: list[float], bounds: tuple[int, int, int, int], buffers: TileBuffers,
                  ceiling=None):
        """Yield ``(g, exp(g * s_tile - shift(g)))`` for every tilt, with one matmul for them all
        (several tilts share the scaled logits, kept in buffer 2). Each result lives in buffer 0
        until the next one is produced. ``ceiling`` (a :class:`~.false_negatives.CeilingTile`) takes
        its mask from the shifted logits before the ``exp``, where float32 still tells them apart."""
        r0, r1, c0, c1 = bounds
        out = buffers.get(0, r1 - r0, c1 - c0)
        if not gammas:
            return
        if len(gammas) == 1:
            logits = self._product(gammas[0], self.shift_of(gammas[0]), bounds, out)
            if ceiling is not None:
                ceiling.mark(logits, gammas[0])
            yield gammas[0], logits.exp_()
            return
        base = self._product(1.0, 0.0, bounds, buffers.get(2, r1 - r0, c1 - c0))  # scale * s
        for gamma in gammas:
            logits = torch.mul(base, gamma, out=out).sub_(self.shift_of(gamma))
            if ceiling is not None:
                ceiling.mark(logits, gamma)
            yield gamma, logits.exp_()


def _zero(e: Tensor, coords: tuple[Tensor, Tensor] | None) -> None:
    if coords is not None:
        e[coords] = 0.0


def plain_forward(ops: ShiftedOperands, bounds: tuple[int, int, int, int], sides, buffers: TileBuffers,
                  sparse=None, ceiling=None) -> None:
    """Fold a tile into the accumulators of ``sides`` (as ``reduce_tile`` does): a tile of negatives,
    or a :class:`SparseTile` whose excluded pairs, then positives, are zeroed in place (``kept``
    contains ``neg``, so the ``kept`` sums are taken first). ``ceiling``: a
    :class:`~.false_negatives.CeilingTile` (rule 6) or ``None``."""
    for gamma, e in ops.tile_exps(plain_gammas(sides), bounds, buffers, ceiling):
        if sparse is not None:
            _zero(e, sparse.excluded)
            if sparse.id_excluded is not None:
                e.masked_fill_(sparse.id_excluded, 0.0)
        if ceiling is not None:
            ceiling.apply(e, gamma)
        for group in ("kept", "neg"):
            if group == "neg" and sparse is not None:
                _zero(e, sparse.positive)
            sums: dict[int, Tensor] = {}
            for side, where, dim in sides:
                for which, g, acc in side.lse.values():
                    if g != gamma or which != group:
                        continue
                    if dim not in sums:
                        sums[dim] = e.sum(dim)
                    acc.add_shifted_sum(where, sums[dim])


def _coefficients(sides, gamma: float, groups: tuple[str, ...]) -> dict[int, Tensor]:
    coef: dict[int, Tensor] = {}
    for grads, where, dim in sides:
        for which, g, c, _ in grads.lse_terms:
            if which in groups and g == gamma:
                coef[dim] = c[where] if dim not in coef else coef[dim] + c[where]
    return coef


def _at(coef: dict[int, Tensor], coords: tuple[Tensor, Tensor]) -> Tensor:
    rows, cols = coords
    parts = [coef[1][rows]] if 1 in coef else []
    parts += [coef[0][cols]] if 0 in coef else []
    return sum(parts[1:], parts[0]) if parts else torch.zeros(rows.shape)


def plain_gradient(ops: ShiftedOperands, bounds: tuple[int, int, int, int], sides, buffers: TileBuffers,
                   sparse=None, ceiling=None) -> Tensor | None:
    """``dL/ds`` of a tile of negatives (or a :class:`SparseTile`) when only fixed-shift
    log-sum-exp terms over ``kept`` / ``neg`` carry gradient."""
    r0, r1, c0, c1 = bounds
    rows, cols = r1 - r0, c1 - c0
    total = None
    gammas = [g for g in plain_gammas(sides) if _coefficients(sides, g, ("kept", "neg"))]
    for gamma, e in ops.tile_exps(gammas, bounds, buffers, ceiling):
        coef = _coefficients(sides, gamma, ("kept", "neg"))
        positive = None if sparse is None else sparse.positive
        if sparse is not None:
            _zero(e, sparse.excluded)
            if sparse.id_excluded is not None:
                e.masked_fill_(sparse.id_excluded, 0.0)
        if ceiling is not None:
            ceiling.apply(e, gamma)
        if positive is not None:  # positives are kept but not negatives: their own weight
            kept_coef = _coefficients(sides, gamma, ("kept",))
            at_positive = e[positive] * _at(kept_coef, positive).to(e.dtype) if kept_coef else 0.0
        if 1 in coef and 0 in coef:
            weight = torch.add(coef[1].unsqueeze(1), coef[0].unsqueeze(0), out=buffers.get(1, rows, cols))
        else:
            weight = coef[1].unsqueeze(1) if 1 in coef else coef[0].unsqueeze(0)
        e.mul_(weight)
        if positive is not None:
            e[positive] = at_positive
        if len(gammas) == 1:
            total = e
        elif total is None:
            total = buffers.get(3, rows, cols).copy_(e)
        else:
            total.add_(e)
    return total
