"""Positive statistics that need no pass over the tiles.

``index_positive_stats``: structures whose positives are given by ``pos_index`` alone.

Without label or id rules each anchor has at most one positive, ``pos_index[i]`` (unless it is also
its ``self_index``, which excludes it). ``pos_sum``, ``pos_count`` and ``pos_lse`` then need only
the ``N`` positive logits ``s_{i, pos_index[i]}``, an ``O(N d)`` gather computed with ordinary
autograd operations, instead of a pass over every tile. The column versions gather the same logits
per candidate.

``label_positive_stats``: label structures without id rules, for ``pos_sum`` / ``pos_count``, from
per-class sums of the candidates (the sum of the logits over a class is linear in the candidates).
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


POSITIVE_SUMS = frozenset({"pos_sum", "pos_count"})
LABEL_FAST_ROW = POSITIVE_SUMS | {"lse_all"}


def label_fast_applicable(structure: PairStructure, row_want: frozenset[str],
                          col_want: frozenset[str]) -> bool:
    """Label rules without id rules, asking only for ``lse_all`` and the positives' sum/count.

    Then the kept set of every anchor is "all but ``self_index``" (labels only split it into
    positives and negatives), and ``pos_sum``/``pos_count`` are linear in the candidates of the
    anchor's class, so no tile needs a label mask.
    """
    return (structure.anchor_labels is not None and structure.anchor_ids is None
            and bool(row_want & POSITIVE_SUMS) and row_want <= LABEL_FAST_ROW
            and col_want <= {"lse_all"})


def label_positive_stats(anchors: Tensor, candidates: Tensor, structure: PairStructure,
                         row_want: frozenset[str], scale: Tensor | float,
                         dtype: torch.dtype) -> dict[str, Tensor]:
    r"""``pos_sum`` and ``pos_count`` of label structures from per-class sums, in ``O((N + M) d)``.

    .. math::
        P(i) = \{j : y^c_j = y^a_i \ge 0\} \cup \{\mathrm{pos}_i\} \setminus \{\mathrm{self}_i\},\qquad
        \sum_{j\in P(i)} s_{ij} = \mathrm{scale}\,\Big\langle a_i, \sum_{j: y^c_j = y^a_i} c_j\Big\rangle
            + [\mathrm{pos}_i \notin \text{class}]\, s_{i,\mathrm{pos}_i}
            - [\mathrm{self}_i \in P(i)]\, s_{i,\mathrm{self}_i}
    """
    a, c = anchors.to(dtype), candidates.to(dtype)
    n, device = a.shape[0], a.device
    a_lab, c_lab = structure.anchor_labels, structure.candidate_labels
    num_classes = int(max(int(a_lab.max()), int(c_lab.max()), -1)) + 1
    labelled = c_lab >= 0
    class_sums = torch.zeros(num_classes + 1, a.shape[1], dtype=dtype, device=device)
    class_sums = class_sums.index_add(0, c_lab[labelled], c[labelled])  # (L + 1, d), last row stays 0
    class_counts = torch.zeros(num_classes + 1, dtype=dtype, device=device)
    class_counts = class_counts.index_add(0, c_lab[labelled], torch.ones_like(c_lab[labelled], dtype=dtype))
    own = torch.where(a_lab >= 0, a_lab, num_classes)  # anchors without a label use the zero row
    pos_sum = (a * class_sums[own]).sum(-1) * scale
    pos_count = class_counts[own]

    def pair_logits(index: Tensor) -> tuple[Tensor, Tensor]:
        """Rows with ``index >= 0``, and their logits ``s_{i, index_i}``."""
        rows = (index >= 0).nonzero().squeeze(1)
        return rows, (a[rows] * c[index[rows]]).sum(-1) * scale

    def in_class(rows: Tensor, cols: Tensor) -> Tensor:
        return (c_lab[cols] >= 0) & (c_lab[cols] == a_lab[rows])

    extra = torch.zeros(n, dtype=torch.bool, device=device)  # pos_index adds a positive
    if structure.pos_index is not None:
        rows, logits = pair_logits(structure.pos_index)
        cols = structure.pos_index[rows]
        add = ~in_class(rows, cols)
        if structure.self_index is not None:
            add &= structure.self_index[rows] != cols
        pos_sum = pos_sum.index_add(0, rows[add], logits[add])
        pos_count = pos_count.index_add(0, rows[add], torch.ones_like(logits[add].detach()))
        extra[rows[add]] = True
    if structure.self_index is not None:
        rows, logits = pair_logits(structure.self_index)
        cols = structure.self_index[rows]
        drop = in_class(rows, cols)
        pos_sum = pos_sum.index_add(0, rows[drop], -logits[drop])
        pos_count = pos_count.index_add(0, rows[drop], -torch.ones_like(logits[drop].detach()))
    out = {}
    if "pos_sum" in row_want:
        out["pos_sum"] = pos_sum
    if "pos_count" in row_want:
        out["pos_count"] = pos_count.detach()
    return out
