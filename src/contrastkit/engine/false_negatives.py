"""Score-based false-negative exclusion: rule 6 of :class:`~.structure.PairStructure`.

A candidate that the index/label/id rules make a *negative* of anchor ``i`` is excluded when its
unscaled score ``<a_i, c_j>`` (the cosine for normalised embeddings) exceeds the anchor's
``score_ceiling[i]``. The ceiling is a per-anchor vector, so the decision is taken pair by pair
inside each tile (the streaming engine never builds an ``N x M`` mask), and reference and streaming
take it from the same expression ``s_ij > scale * ceiling_i`` on the scaled logits.

Two options give the ceiling (the smaller wins when both are set):

* ``margin m``:    ``ceiling_i = <a_i, c_pos(i)> - m`` -- candidates scoring within ``m`` of the
  anchor's own positive (or above it) are presumed false negatives;
* ``threshold t``: ``ceiling_i = t`` -- candidates scoring above ``t`` are.

The positive's score is that of the anchor's designated positive (``pos_index``); an anchor with
only label positives uses the mean score of its positives; an anchor with no positive gets no margin
rule (ceiling ``+inf``, or ``t``). The ceiling is computed without gradient: exclusion is a hard
decision, as in sentence-transformers' ``GISTEmbedLoss`` margin strategies.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._index_positives import index_positive_stats, label_positive_stats
from .structure import PairStructure


def check_false_negative_options(margin: float | None, threshold: float | None
                                 ) -> tuple[float | None, float | None]:
    """Validate ``false_negative_margin`` / ``false_negative_threshold``: ``None`` or a finite float."""
    out = []
    for name, value in (("false_negative_margin", margin), ("false_negative_threshold", threshold)):
        if value is None:
            out.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name}: expected a finite float or None, got {value!r}")
        if not math.isfinite(float(value)):
            raise ValueError(f"{name}: expected a finite float or None, got {value!r}")
        out.append(float(value))
    return out[0], out[1]


@torch.no_grad()
def positive_scores(anchors: Tensor, candidates: Tensor, structure: PairStructure) -> Tensor:
    """Unscaled score of each anchor's positive: ``<a_i, c_pos(i)>`` for a designated positive, the
    mean over label positives otherwise, ``nan`` for an anchor without any positive. ``(N,)``."""
    dtype = torch.float64 if anchors.dtype == torch.float64 else torch.float32
    n = structure.num_anchors
    scores = torch.full((n,), float("nan"), dtype=dtype, device=anchors.device)
    if structure.anchor_labels is not None:
        stats = label_positive_stats(anchors, candidates, structure, frozenset({"pos_sum", "pos_count"}),
                                     1.0, dtype)
        has = stats["pos_count"] > 0
        scores = torch.where(has, stats["pos_sum"] / stats["pos_count"].clamp_min(1), scores)
    if structure.pos_index is not None:
        plain = PairStructure(n, structure.num_candidates, pos_index=structure.pos_index,
                              self_index=structure.self_index)
        stats = index_positive_stats(anchors, candidates, plain, frozenset({"pos_sum", "pos_count"}),
                                     frozenset(), 1.0, dtype)
        scores = torch.where(stats["pos_count"] > 0, stats["pos_sum"], scores)
    return scores


def false_negative_ceiling(anchors: Tensor, candidates: Tensor, structure: PairStructure, *,
                           margin: float | None = None, threshold: float | None = None,
                           positives: Tensor | None = None) -> Tensor | None:
    """The per-anchor ``score_ceiling`` for ``margin`` and/or ``threshold`` (``None`` when neither).

    ``positives`` overrides :func:`positive_scores` (losses whose positive is scored outside the
    engine pass it, unscaled; ``nan`` = no positive).
    """
    margin, threshold = check_false_negative_options(margin, threshold)
    if margin is None and threshold is None:
        return None
    dtype = torch.float64 if anchors.dtype == torch.float64 else torch.float32
    ceiling = torch.full((structure.num_anchors,), float("inf"), dtype=dtype, device=anchors.device)
    if margin is not None:
        pos = positive_scores(anchors, candidates, structure) if positives is None \
            else positives.detach().to(dtype)
        ceiling = torch.where(torch.isnan(pos), ceiling, pos - margin)
    if threshold is not None:
        ceiling = ceiling.clamp_max(threshold)
    return ceiling


def with_ceiling(structure: PairStructure, ceiling: Tensor | None) -> PairStructure:
    """``structure`` with rule 6 set to ``ceiling`` (unchanged for ``None``)."""
    if ceiling is None:
        return structure
    rules = {name: getattr(structure, name) for name in PairStructure.RULES}
    rules["score_ceiling"] = ceiling
    return PairStructure(structure.num_anchors, structure.num_candidates, **rules)


def exclude_above_ceiling(masks: tuple[Tensor, Tensor], logits: Tensor, ceiling: Tensor | None,
                          scale: float) -> tuple[tuple[Tensor, Tensor], Tensor | None]:
    """Apply rule 6 to a block's ``(positive, negative)`` masks given its scaled ``logits`` and the
    ceilings of its rows; returns the new masks and, per row, how many negatives were excluded."""
    if ceiling is None:
        return masks, None
    positive, negative = masks
    above = negative & (logits > (ceiling * scale).to(logits.dtype).unsqueeze(1))
    return (positive, negative & ~above), above.sum(1)


class CeilingTile:
    """Rule 6 on the fast tile path: :meth:`mark` sees the tile's shifted logits ``g * s - shift(g)``
    before their ``exp`` (``s_ij > scale * ceiling_i`` iff the logit exceeds ``g * scale * ceiling_i -
    shift(g)`` for a tilt ``g > 0``), :meth:`apply` zeroes the marked pairs of ``e = exp(...)``. The
    mask is taken from the first tilt seen and reused for the others; positives and already-excluded
    pairs of a sparse tile are never counted.

    Args:
        scaled_ceiling: ``scale * ceiling`` of the tile's rows.
        shift_of: the fixed shift of a tilt.
        sparse: the tile's :class:`~._tiles.SparseTile`, or ``None`` for a tile of negatives.
    """

    def __init__(self, scaled_ceiling: Tensor, shift_of, sparse=None):
        self.scaled_ceiling, self.shift_of, self.sparse = scaled_ceiling, shift_of, sparse
        self.above: Tensor | None = None

    def mark(self, logits: Tensor, gamma: float) -> None:
        """Take the mask from the tile's shifted logits ``g * s - shift(g)`` (once, from the first tilt):
        comparing logits rather than their ``exp`` keeps pairs apart that round to the same float32
        exponential (scaled scores within ~1e-7 of each other, e.g. at very high temperatures)."""
        if self.above is not None:
            return
        threshold = (gamma * self.scaled_ceiling - self.shift_of(gamma)).to(logits.dtype)
        above = logits > threshold.unsqueeze(1)
        for coords in (None if self.sparse is None else self.sparse.positive,
                       None if self.sparse is None else self.sparse.excluded):
            if coords is not None:
                above[coords] = False
        if self.sparse is not None and self.sparse.id_excluded is not None:
            above &= ~self.sparse.id_excluded
        self.above = above

    def apply(self, e: Tensor, gamma: float) -> None:
        """Zero the excluded pairs of ``e`` (the tile's exponentials for tilt ``gamma``) in place, with
        the mask :meth:`mark` took from the tile's logits."""
        e.masked_fill_(self.above, 0.0)

    def counts(self) -> Tensor | None:
        """Per row, the pairs excluded (``None`` before :meth:`apply`)."""
        return None if self.above is None else self.above.sum(1)
