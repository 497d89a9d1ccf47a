"""Streaming backend: the pair statistics without materialising the ``N x M`` logit matrix.

The logits ``s = scale * A C^T`` are visited in row x column tiles. The forward pass folds each tile
into per-row and per-column running reductions (an online, max-subtracted log-sum-exp in float32 or
float64, see :mod:`._tiles`) and keeps nothing else; the backward pass recomputes every tile and turns
the incoming gradients of the statistics into ``dL/ds`` of that tile, then into ``dL/dA``,
``dL/dC``, ``dL/d row_negatives``, ``dL/d scale`` and ``dL/d bias``. Memory is
``O((N + M) d + tile_rows * tile_cols)``; results equal :func:`reference_pair_statistics` up to
floating-point summation order.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._index_positives import index_positive_stats, label_fast_applicable, label_positive_stats
from ._pair_tiles import pair_fast_applicable, pair_forward, pair_gradient
from ._plain_tiles import ShiftedOperands, TileBuffers, plain_forward, plain_gradient
from ._sides import DEFAULT_TILE, POSITIVE_STATS, SideGradients, SideSums, StreamingPlan
from ._tile_math import TileLogits, reduce_tile, tile_gradient
from ._tiles import SparseTile, TileClassifier, dense_masks
from .false_negatives import CeilingTile, exclude_above_ceiling
from .reference import accumulation_dtype
from .stats import ALL_STATS, PairStats
from .structure import PairStructure
from .triton_backend import triton_applicable, triton_lse_statistics


def _sides(rows, row_where, cols, col_where):
    sides = [] if rows is None else [(rows, row_where, 1)]
    return sides if cols is None else [*sides, (cols, col_where, 0)]


def _row_negative_logits(a_block: Tensor, r_block: Tensor) -> Tensor:
    return torch.bmm(r_block, a_block.unsqueeze(2)).squeeze(2)  # (T, K)


def _ceiling_fast(plan: StreamingPlan, want: frozenset[str]) -> bool:
    """Whether the fast tile paths can apply rule 6: every tilt is > 0 and some log-sum-exp over
    negatives gives the tile's exponentials (rule 6 is read from them)."""
    if plan.structure.score_ceiling is None:
        return True
    return min(plan.tilts) > 0 and any(which != "pos" for _, which, _ in plan.lse_terms(want))


def _ceiling_tile(plan: StreamingPlan, masks, r0: int, r1: int, scale: float):
    ceiling = plan.structure.score_ceiling
    return None if ceiling is None else CeilingTile(ceiling[r0:r1] * scale, plan.shift, masks)


def _ceiling_masks(plan: StreamingPlan, masks, s: Tensor, r0: int, r1: int, scale: float, rows=None):
    """Dense masks of a tile with rule 6 applied (``score_ceiling``); counts the excluded pairs into
    ``rows.fn_count``. Without a ceiling, the tile's classification unchanged."""
    ceiling = plan.structure.score_ceiling
    if ceiling is None:
        return dense_masks(masks)
    if masks is None:  # row negatives: every extra candidate is a negative
        masks = (torch.zeros_like(s, dtype=torch.bool), torch.ones_like(s, dtype=torch.bool))
    masks, excluded = exclude_above_ceiling(dense_masks(masks), s, ceiling[r0:r1], scale)
    if rows is not None and rows.fn_count is not None:
        rows.fn_count[r0:r1] += excluded.to(rows.fn_count.dtype)
    return masks


def streaming_forward(plan: StreamingPlan, a: Tensor, c: Tensor, rn: Tensor | None, scale: float,
                      bias: float) -> dict[str, Tensor]:
    n, m, t = a.shape[0], c.shape[0], plan.tile
    classify = TileClassifier(plan.structure)
    rows = SideSums(plan, plan.row_want, n, a.dtype, a.device) if plan.row_want else None
    cols = SideSums(plan, plan.col_want, m, a.dtype, a.device) if plan.col_want else None
    fast = plan.plain_fast(plan.row_want | plan.col_want) and _ceiling_fast(plan, plan.row_want)
    fast_sparse = fast and not (plan.row_want | plan.col_want) & POSITIVE_STATS
    pairs = plan.structure.score_ceiling is None and pair_fast_applicable(plan.row_want, plan.col_want,
                                                                          plan.bound, bias)
    buffers = TileBuffers(min(t, n), min(t, m), a.dtype, a.device)
    ops = ShiftedOperands(a, c, scale, plan.shift) if fast or pairs else None
    for r0 in range(0, n, t):
        r1 = min(r0 + t, n)
        a_block = a[r0:r1]
        for c0 in range(0, m, t):
            c1 = min(c0 + t, m)
            sides = _sides(rows, slice(r0, r1), cols, slice(c0, c1))
            masks = classify.masks(r0, r1, c0, c1, a.device)
            if (masks is None and fast) or (isinstance(masks, SparseTile) and fast_sparse):
                ceiling = _ceiling_tile(plan, masks, r0, r1, scale)
                plain_forward(ops, (r0, r1, c0, c1), sides, buffers, masks, ceiling)
                if ceiling is not None and rows is not None and rows.fn_count is not None \
                        and ceiling.counts() is not None:
                    rows.fn_count[r0:r1] += ceiling.counts().to(rows.fn_count.dtype)
                continue
            if pairs and (masks is None or isinstance(masks, SparseTile)):
                pair_forward(ops, (r0, r1, c0, c1), sides, buffers, bias, masks)
                continue
            s = torch.mm(a_block, c[c0:c1].T).mul_(scale)  # (T, T)
            reduce_tile(TileLogits(s, _ceiling_masks(plan, masks, s, r0, r1, scale, rows)), sides, bias)
        if rn is not None and rows is not None:
            e = _row_negative_logits(a_block, rn[r0:r1]).mul_(scale)
            e_masks = _ceiling_masks(plan, None, e, r0, r1, scale, rows)
            reduce_tile(TileLogits(e, e_masks), [(rows, slice(r0, r1), 1)], bias)
    out = {} if rows is None else rows.results(plan.row_want)
    if cols is not None:
        out.update({"col_" + k: v for k, v in cols.results(plan.col_want).items()})
    return out


def streaming_backward(plan, a, c, rn, scale, bias, outputs, grads, need_c):
    """Gradients ``(dA, dC, dR, dscale, dbias)`` in the accumulation dtype (``dC``: None unless
    ``need_c``; ``dR``: None without row negatives)."""
    n, m, t = a.shape[0], c.shape[0], plan.tile
    classify = TileClassifier(plan.structure)
    row_out = {k: v for k, v in outputs.items() if not k.startswith("col_")}
    col_out = {k[4:]: v for k, v in outputs.items() if k.startswith("col_")}
    rows = SideGradients(plan, plan.row_want, row_out, {k: grads.get(k) for k in row_out})
    cols = SideGradients(plan, plan.col_want, col_out, {k: grads.get("col_" + k) for k in col_out})
    rows = None if rows.empty else rows
    cols = None if cols.empty else cols
    d_a = torch.zeros_like(a)
    d_c = torch.zeros_like(c) if need_c else None
    d_r = None if rn is None else torch.zeros_like(rn)
    d_scale = a.new_zeros(())
    d_bias = a.new_zeros(())
    fast = all(g is None or (g.pair_sum is None and all(o is None for *_, o in g.lse_terms))
               for g in (rows, cols))
    fast = fast and _ceiling_fast(plan, plan.row_want)
    fast_sparse = fast and all(g is None or (g.pos_sum is None and all(w != "pos" for w, *_ in g.lse_terms))
                               for g in (rows, cols))
    pairs = plan.structure.score_ceiling is None and pair_fast_applicable(plan.row_want, plan.col_want,
                                                                          plan.bound, bias)
    buffers = TileBuffers(min(t, n), min(t, m), a.dtype, a.device)
    ops = ShiftedOperands(a, c, scale, plan.shift) if fast or pairs else None
    for r0 in range(0, n, t):
        r1 = min(r0 + t, n)
        a_block, d_block = a[r0:r1], d_a[r0:r1]
        for c0 in range(0, m, t):
            c1 = min(c0 + t, m)
            sides = _sides(rows, slice(r0, r1), cols, slice(c0, c1))
            masks = classify.masks(r0, r1, c0, c1, a.device)
            if (masks is None and fast) or (isinstance(masks, SparseTile) and fast_sparse):
                d_s = plain_gradient(ops, (r0, r1, c0, c1), sides, buffers, masks,
                                     _ceiling_tile(plan, masks, r0, r1, scale))
                d_b = None
            elif pairs and (masks is None or isinstance(masks, SparseTile)):
                d_s, d_b = pair_gradient(ops, (r0, r1, c0, c1), sides, buffers, bias, masks)
            else:
                s = torch.mm(a_block, c[c0:c1].T).mul_(scale)
                d_s, d_b = tile_gradient(TileLogits(s, _ceiling_masks(plan, masks, s, r0, r1, scale)), sides,
                                         bias, plan.shift)
            if d_b is not None:
                d_bias += d_b
            if d_s is None:
                continue
            d_block.addmm_(d_s, c[c0:c1])
            if d_c is not None:
                d_c[c0:c1].addmm_(d_s.T, a_block)
        if rn is not None and rows is not None:
            e = _row_negative_logits(a_block, rn[r0:r1]).mul_(scale)
            d_e, d_b = tile_gradient(TileLogits(e, _ceiling_masks(plan, None, e, r0, r1, scale)),
                                     [(rows, slice(r0, r1), 1)], bias, plan.shift)
            if d_b is not None:
                d_bias += d_b
            if d_e is not None:
                d_block.add_(torch.bmm(d_e.unsqueeze(1), rn[r0:r1]).squeeze(1))
                d_r[r0:r1] = d_e.unsqueeze(2) * a_block.unsqueeze(1) * scale
        d_scale += (d_block * a_block).sum()  # sum_ij dL/ds_ij * <a_i, c_j>
        d_block.mul_(scale)
    if d_c is not None:
        d_c.mul_(scale)
    return d_a, d_c, d_r, d_scale, d_bias


class StreamingPairStatistics(torch.autograd.Function):
    """Autograd function over ``(anchors, candidates, row_negatives, scale, bias)``; returns the
    wanted statistics in :data:`ALL_STATS` order."""

    @staticmethod
    def forward(ctx, plan, anchors, candidates, row_negatives, scale, bias):
        dtype = accumulation_dtype(anchors)
        a, c = anchors.to(dtype), candidates.to(dtype)
        rn = None if row_negatives is None else row_negatives.to(dtype)
        out = streaming_forward(plan, a, c, rn, float(scale.detach()), float(bias.detach()))
        names = [k for k in ALL_STATS if k in out]
        ctx.plan, ctx.names = plan, names
        ctx.mark_non_differentiable(*[out[k] for k in names if k.endswith("count")])
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(anchors, candidates, row_negatives, scale, bias, *[out[k] for k in names])
        return tuple(out[k] for k in names)

    @staticmethod
    @once_differentiable
    def backward(ctx, *grad_outputs):
        anchors, candidates, row_negatives, scale, bias, *values = ctx.saved_tensors
        outputs = dict(zip(ctx.names, values))
        grads = {k: g for k, g in zip(ctx.names, grad_outputs) if g is not None and not k.endswith("count")}
        dtype = accumulation_dtype(anchors)
        a, c = anchors.to(dtype), candidates.to(dtype)
        rn = None if row_negatives is None else row_negatives.to(dtype)
        d_a, d_c, d_r, d_scale, d_bias = streaming_backward(
            ctx.plan, a, c, rn, float(scale), float(bias), outputs, grads, ctx.needs_input_grad[2])
        need = ctx.needs_input_grad
        return (None,
                d_a.to(anchors.dtype) if need[1] else None,
                d_c.to(candidates.dtype) if need[2] else None,
                d_r.to(row_negatives.dtype) if need[3] and d_r is not None else None,
                d_scale.to(scale.dtype) if need[4] else None,
                d_bias.to(bias.dtype) if need[5] else None)


def logit_bound(anchors: Tensor, candidates: Tensor, row_negatives: Tensor | None, scale: float) -> float:
    """``|scale| * max ||a_i|| * max ||c_j||`` (row negatives included): bounds every ``|s_ij|``."""
    with torch.no_grad():
        def peak(x):
            return float(x.float().norm(dim=-1).max()) if x.numel() else 0.0
        cand = max(peak(candidates), 0.0 if row_negatives is None else peak(row_negatives))
        bound = abs(scale) * peak(anchors) * cand
    return bound * (1 + 1e-5) + 1e-6 if bound == bound else float("inf")


def streaming_pair_statistics(anchors: Tensor, candidates: Tensor, structure: PairStructure,
                              want: frozenset[str], *, scale: Tensor | float,
                              tilts: tuple[float, ...] = (1.0,), bias: Tensor | float | None = None,
                              row_negatives: Tensor | None = None, tile_size: int | None = None
                              ) -> PairStats:
    """Same inputs and outputs as :func:`reference_pair_statistics`, computed tile by tile.

    Args:
        tile_size: edge of the square tiles of logits (rows and columns); default
            :data:`DEFAULT_TILE` for the device type.
    """
    if tile_size is not None and (not isinstance(tile_size, int) or tile_size < 1):
        raise ValueError(f"tile_size: expected a positive int or None, got {tile_size!r}")
    device = anchors.device
    tile = tile_size or DEFAULT_TILE.get(device.type, DEFAULT_TILE["cuda"])
    scale_t = scale if isinstance(scale, Tensor) else torch.tensor(float(scale), dtype=torch.float64)
    bias_t = bias if isinstance(bias, Tensor) else torch.tensor(float(bias or 0.0), dtype=torch.float64)
    if scale_t.numel() != 1 or bias_t.numel() != 1:
        raise ValueError("scale, bias: expected Python floats or one-element tensors")
    plan = StreamingPlan(
        structure=structure.to(device),
        row_want=frozenset(w for w in want if not w.startswith("col_")),
        col_want=frozenset(w[4:] for w in want if w.startswith("col_")),
        tilts=tuple(tilts), tile=tile,
        bound=logit_bound(anchors, candidates, row_negatives, float(scale_t.detach())),
    )
    stats: dict[str, Tensor] = {}
    ceiling = plan.structure.score_ceiling is not None
    if not ceiling and label_fast_applicable(plan.structure, plan.row_want, plan.col_want):
        stats = label_positive_stats(anchors, candidates, plan.structure, plan.row_want & POSITIVE_STATS,
                                     scale, accumulation_dtype(anchors))
        # What remains (lse_all) keeps every pair but self: labels no longer matter to the tiles.
        remaining = PairStructure(structure.num_anchors, structure.num_candidates,
                                  self_index=plan.structure.self_index)
        plan = replace(plan, structure=remaining, row_want=plan.row_want - POSITIVE_STATS)
    if TileClassifier(plan.structure).sparse and (plan.row_want | plan.col_want) & POSITIVE_STATS:
        stats = index_positive_stats(anchors, candidates, plan.structure, plan.row_want & POSITIVE_STATS,
                                     plan.col_want & POSITIVE_STATS, scale,
                                     accumulation_dtype(anchors))
        plan = replace(plan, row_want=plan.row_want - POSITIVE_STATS, col_want=plan.col_want - POSITIVE_STATS)
    if not ceiling and triton_applicable(anchors, candidates, plan.structure, plan.row_want, plan.col_want,
                                         row_negatives):
        stats.update(triton_lse_statistics(anchors, candidates, plan.structure, plan.row_want, plan.col_want,
                                           scale_t))
    elif plan.row_want or plan.col_want:
        values = StreamingPairStatistics.apply(plan, anchors, candidates, row_negatives,
                                               scale_t.reshape(()), bias_t.reshape(()))
        names = [k for k in ALL_STATS if k in want and k not in stats]
        stats.update(zip(names, values))
    return PairStats(**stats)
