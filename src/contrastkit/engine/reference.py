"""Materialised reference backend: builds the full ``N x M`` logit matrix and reduces it.

Simple and exact; the streaming backend is tested against it. Memory is ``O(N*M)``.
Every log-sum-exp is max-subtracted (``torch.logsumexp``) and accumulated in float32 (float64
inputs stay float64), so bf16/fp16 inputs at small temperatures neither overflow nor underflow.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .false_negatives import exclude_above_ceiling
from .stats import PairStats
from .structure import PairStructure


def masked_logsumexp(x: Tensor, mask: Tensor, dim: int) -> Tensor:
    """``log sum_{mask} exp(x)`` along ``dim``; ``-inf`` (with zero gradient) where the mask is empty."""
    empty = ~mask.any(dim=dim)
    masked = x.masked_fill(~mask, float("-inf"))
    # Rows with nothing kept would give NaN gradients through logsumexp(-inf, ...): feed them zeros.
    safe = masked.masked_fill(empty.unsqueeze(dim), 0.0)
    out = torch.logsumexp(safe, dim=dim)
    return out.masked_fill(empty, float("-inf"))


def reduce_logits(
    logits: Tensor,
    positive: Tensor,
    negative: Tensor,
    want: frozenset[str],
    *,
    tilts: tuple[float, ...],
    bias: Tensor | float | None,
    dim: int,
) -> dict[str, Tensor]:
    """Reduce a materialised block of logits into the statistics named in ``want`` along ``dim``."""
    out: dict[str, Tensor] = {}
    kept = positive | negative
    if "lse_all" in want:
        out["lse_all"] = masked_logsumexp(logits, kept, dim)
    if "lse_neg" in want:
        out["lse_neg"] = torch.stack(
            [masked_logsumexp(g * logits, negative, dim) for g in tilts], dim=-1
        )
    if "pos_sum" in want:
        out["pos_sum"] = (logits * positive).sum(dim)
    if "pos_count" in want:
        out["pos_count"] = positive.sum(dim).to(logits.dtype)
    if "pos_lse" in want:
        out["pos_lse"] = masked_logsumexp(logits, positive, dim)
    if "pair_sum" in want:
        sign = positive.to(logits.dtype) * 2 - 1
        shifted = logits if bias is None else logits + bias
        # logaddexp(0, x) is softplus without F.softplus's linear cut-off above x = 20, whose
        # error (about e^-20) shows at float64 precision.
        out["pair_sum"] = (torch.logaddexp(torch.zeros_like(shifted), -sign * shifted) * kept).sum(dim)
    return out


def accumulation_dtype(x: Tensor) -> torch.dtype:
    """float64 stays float64; every other floating dtype is accumulated in float32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def reference_pair_statistics(
    anchors: Tensor,
    candidates: Tensor,
    structure: PairStructure,
    want: frozenset[str],
    *,
    scale: Tensor | float,
    tilts: tuple[float, ...] = (1.0,),
    bias: Tensor | float | None = None,
    row_negatives: Tensor | None = None,
) -> PairStats:
    """Compute the requested :class:`PairStats` by materialising ``s = scale * A C^T``."""
    dtype = accumulation_dtype(anchors)
    a, c = anchors.to(dtype), candidates.to(dtype)
    logits = (a @ c.T) * scale  # (N, M)
    n, m = logits.shape
    positive, negative = structure.to(logits.device).tile_masks(0, n, 0, m, logits.device)

    stats = PairStats()
    row_want = frozenset(w for w in want if not w.startswith("col_"))
    if row_want:
        row_logits, row_pos, row_neg = logits, positive, negative
        if row_negatives is not None:
            extra = torch.einsum("nd,nkd->nk", a, row_negatives.to(dtype)) * scale  # (N, K)
            row_logits = torch.cat([logits, extra], dim=1)
            row_pos = torch.cat([positive, torch.zeros_like(extra, dtype=torch.bool)], dim=1)
            row_neg = torch.cat([negative, torch.ones_like(extra, dtype=torch.bool)], dim=1)
        ceiling = structure.score_ceiling
        (row_pos, row_neg), excluded = exclude_above_ceiling(
            (row_pos, row_neg), row_logits.detach(), None if ceiling is None else ceiling.to(logits.device),
            float(scale.detach()) if isinstance(scale, Tensor) else float(scale))
        if "fn_count" in row_want:
            stats.fn_count = (torch.zeros(n, dtype=dtype, device=logits.device) if excluded is None
                              else excluded.to(dtype))
        for name, value in reduce_logits(
            row_logits, row_pos, row_neg, row_want - {"fn_count"}, tilts=tilts, bias=bias, dim=1
        ).items():
            setattr(stats, name, value)
    col_want = frozenset(w[4:] for w in want if w.startswith("col_"))
    if col_want:
        for name, value in reduce_logits(
            logits, positive, negative, col_want, tilts=tilts, bias=bias, dim=0
        ).items():
            setattr(stats, "col_" + name, value)
    return stats
