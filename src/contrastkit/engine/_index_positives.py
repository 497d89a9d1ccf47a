"""Positive statistics of structures whose positives are given by ``pos_index`` alone.

Without label or id rules each anchor has at most one positive, ``pos_index[i]`` (unless it is also
its ``self_index``, which excludes it). ``pos_sum``, ``pos_count`` and ``pos_lse`` then need only
the ``N`` positive logits ``s_{i, pos_index[i]}``, an ``O(N d)`` gather computed with ordinary
autograd operations, instead of a pass over every tile. The column versions gather the same logits
per candidate.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .structure import PairStructure


def _scatter_logsumexp(values: Tensor, index: Tensor, size: int) -> Tensor:
    """``log sum exp`` of ``values`` grouped by ``index`` into ``size`` slots; ``-inf`` where empty."""
    peak = torch.full((size,), float("-inf"), dtype=values.dtype, device=values.device)
    peak = peak.scatter_reduce(0, index, values.detach(), reduce="amax")
    empty = torch.isneginf(peak)
    base = peak.masked_fill(empty, 0.0)
    sums = torch.zeros_like(base).index_add(0, index, torch.exp(values - base[index]))
    return torch.where(empty, float("-inf"), torch.log(sums.masked_fill(empty, 1.0)) + base)


def index_positive_stats(anchors: Tensor, candidates: Tensor, structure: PairStructure,
                         row_want: frozenset[str], col_want: frozenset[str], scale: Tensor | float,
                         dtype: torch.dtype) -> dict[str, Tensor]:
    """``pos_*`` (``row_want``) and ``col_pos_*`` (``col_want``) statistics; names as in PairStats."""
    n, m = structure.num_anchors, structure.num_candidates
    device = anchors.device
    target = structure.pos_index
    valid = torch.zeros(n, dtype=torch.bool, device=device) if target is None else target >= 0
    if target is not None and structure.self_index is not None:
        valid &= target != structure.self_index
    rows = valid.nonzero().squeeze(1)
    cols = rows if target is None else target[rows]
    logits = (anchors[rows].to(dtype) * candidates[cols].to(dtype)).sum(-1) * scale  # (P,)
    out: dict[str, Tensor] = {}
    for prefix, want, index, size in (("", row_want, rows, n), ("col_", col_want, cols, m)):
        zeros = torch.zeros(size, dtype=dtype, device=device)
        if "pos_count" in want:
            out[prefix + "pos_count"] = zeros.index_add(0, index, torch.ones_like(logits.detach()))
        if "pos_sum" in want:
            out[prefix + "pos_sum"] = zeros.index_add(0, index, logits)
        if "pos_lse" in want:
            out[prefix + "pos_lse"] = _scatter_logsumexp(logits, index, size)
    return out
