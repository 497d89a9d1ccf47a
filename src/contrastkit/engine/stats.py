"""The per-anchor (and per-candidate) statistics every contrastive objective is built from.

With scaled logits ``s_ij = scale * <a_i, c_j>`` and the pair classes of a
:class:`~contrastkit.engine.structure.PairStructure` (``pos(i)``, ``neg(i)``, kept = pos + neg):

========== ============================================================================
``lse_all``  ``log sum_{j in kept(i)} exp(s_ij)``                         shape ``(N,)``
``lse_neg``  ``log sum_{j in neg(i)} exp(g * s_ij)`` for each tilt ``g``  shape ``(N, G)``
``pos_sum``  ``sum_{j in pos(i)} s_ij``                                   shape ``(N,)``
``pos_count`` ``|pos(i)|`` (no gradient)                                  shape ``(N,)``
``pos_lse``  ``log sum_{j in pos(i)} exp(s_ij)``                          shape ``(N,)``
``pair_sum`` ``sum_{j in kept(i)} softplus(-y_ij * (s_ij + bias))``, ``y = +1`` on positives,
             ``-1`` on negatives (SigLIP's pairwise sigmoid terms)        shape ``(N,)``
``fn_count`` how many would-be negatives rule 6 (``score_ceiling``) excluded, row negatives
             included (no gradient; zeros without a ceiling; rows only)  shape ``(N,)``
========== ============================================================================

Per-anchor extra negatives (``row_negatives``, ``N x K x d``) count as negatives of their row. The
``col_*`` statistics are the same reductions over anchors for each candidate ``j`` (rows become
the candidates), used by symmetric losses; row negatives do not enter them. An empty set gives
``-inf`` for a log-sum-exp and ``0`` for a sum. All statistics are float32 (or float64 when the
inputs are float64).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from torch import Tensor

ROW_STATS = ("lse_all", "lse_neg", "pos_sum", "pos_count", "pos_lse", "pair_sum", "fn_count")
COL_STATS = tuple("col_" + name for name in ROW_STATS if name != "fn_count")
ALL_STATS = ROW_STATS + COL_STATS


@dataclass
class PairStats:
    """Requested statistics; the ones not asked for stay ``None``."""

    lse_all: Tensor | None = None
    lse_neg: Tensor | None = None
    pos_sum: Tensor | None = None
    pos_count: Tensor | None = None
    pos_lse: Tensor | None = None
    pair_sum: Tensor | None = None
    fn_count: Tensor | None = None
    col_lse_all: Tensor | None = None
    col_lse_neg: Tensor | None = None
    col_pos_sum: Tensor | None = None
    col_pos_count: Tensor | None = None
    col_pos_lse: Tensor | None = None
    col_pair_sum: Tensor | None = None

    def as_dict(self) -> dict[str, Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def check_wanted(want: set[str] | frozenset[str] | tuple[str, ...]) -> frozenset[str]:
    """Validate the names of requested statistics."""
    want = frozenset(want)
    unknown = want - set(ALL_STATS)
    if unknown:
        raise ValueError(f"want: unknown statistics {sorted(unknown)}; expected a subset of {ALL_STATS}")
    if not want:
        raise ValueError("want: ask for at least one statistic")
    return want
