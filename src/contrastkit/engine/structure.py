"""Which candidate is a positive, a negative or excluded for each anchor.

A :class:`PairStructure` describes the ``N x M`` pair classification by *rules* on small per-row and
per-column vectors, never by an ``N x M`` mask, so that the streaming backend can rebuild any tile
of it on the fly. For anchor ``i`` and candidate ``j``, in order of precedence:

1. ``j == self_index[i]``                          -> excluded (e.g. an anchor compared with itself);
2. ``j == pos_index[i]``                           -> positive (the diagonal, or NT-Xent's other view);
3. ``anchor_labels[i] == candidate_labels[j] >= 0`` -> positive (label / multi-positive structure);
4. ``anchor_ids[i] == candidate_ids[j] >= 0``       -> excluded (known false negatives: same sample id);
5. otherwise                                        -> negative,
6. unless ``<a_i, c_j> > score_ceiling[i]``         -> excluded (presumed false negatives by score,
   decided on the logits inside each tile; see :mod:`.false_negatives`).

A negative label or id (``-1``) matches nothing: extra negatives (a queue, hard negatives) carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor


@dataclass(frozen=True)
class PairStructure:
    """Rules that classify every (anchor, candidate) pair; all tensors are ``int64``.

    Args:
        num_anchors: ``N``.
        num_candidates: ``M``.
        pos_index: ``(N,)`` index of each anchor's designated positive candidate, ``-1`` for none.
        self_index: ``(N,)`` index of a candidate to exclude for each anchor, ``-1`` for none.
        anchor_labels, candidate_labels: ``(N,)`` and ``(M,)``; equal non-negative labels are positives.
        anchor_ids, candidate_ids: ``(N,)`` and ``(M,)``; equal non-negative ids are excluded unless
            rule 2 or 3 already made the pair a positive.
        score_ceiling: ``(N,)`` floating; a would-be negative whose unscaled score exceeds its
            anchor's ceiling is excluded (``+inf``: no exclusion). Only row statistics honour it.
    """

    RULES: ClassVar[tuple[str, ...]] = ("pos_index", "self_index", "anchor_labels", "candidate_labels",
                                        "anchor_ids", "candidate_ids", "score_ceiling")

    num_anchors: int
    num_candidates: int
    pos_index: Tensor | None = None
    self_index: Tensor | None = None
    anchor_labels: Tensor | None = None
    candidate_labels: Tensor | None = None
    anchor_ids: Tensor | None = None
    candidate_ids: Tensor | None = None
    score_ceiling: Tensor | None = None

    def __post_init__(self) -> None:
        n, m = self.num_anchors, self.num_candidates
        for name, size in (
            ("pos_index", n),
            ("self_index", n),
            ("anchor_labels", n),
            ("candidate_labels", m),
            ("anchor_ids", n),
            ("candidate_ids", m),
            ("score_ceiling", n),
        ):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, Tensor) or value.dim() != 1 or value.shape[0] != size:
                got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
                raise ValueError(f"{name}: expected a 1-D tensor of length {size}, got {got}")
            if name == "score_ceiling":
                if not value.is_floating_point() or bool(torch.isnan(value).any()):
                    raise ValueError("score_ceiling: expected a floating tensor without NaN")
            elif value.dtype != torch.long:
                object.__setattr__(self, name, value.long())
        if (self.anchor_labels is None) != (self.candidate_labels is None):
            raise ValueError("anchor_labels and candidate_labels must be given together")
        if (self.anchor_ids is None) != (self.candidate_ids is None):
            raise ValueError("anchor_ids and candidate_ids must be given together")

    @property
    def has_positives(self) -> bool:
        return self.pos_index is not None or self.anchor_labels is not None

    def to(self, device: torch.device) -> PairStructure:
        """The same structure with every tensor on ``device``."""
        moved = {
            name: (None if getattr(self, name) is None else getattr(self, name).to(device))
            for name in self.RULES
        }
        return PairStructure(self.num_anchors, self.num_candidates, **moved)

    def tile_masks(self, row_start: int, row_stop: int, col_start: int, col_stop: int,
                   device: torch.device) -> tuple[Tensor, Tensor]:
        """Boolean ``(positive, negative)`` masks of shape ``(row_stop-row_start, col_stop-col_start)``.

        Pairs that are neither are excluded. Rule 6 (``score_ceiling``) needs the logits: it is
        applied afterwards by :func:`.false_negatives.exclude_above_ceiling`.
        """
        rows = torch.arange(row_start, row_stop, device=device)
        cols = torch.arange(col_start, col_stop, device=device)
        shape = (rows.numel(), cols.numel())
        positive = torch.zeros(shape, dtype=torch.bool, device=device)
        excluded = torch.zeros(shape, dtype=torch.bool, device=device)
        if self.pos_index is not None:
            positive |= self.pos_index[row_start:row_stop, None] == cols[None, :]
        if self.anchor_labels is not None:
            cand = self.candidate_labels[col_start:col_stop]
            positive |= (self.anchor_labels[row_start:row_stop, None] == cand[None, :]) & (
                cand[None, :] >= 0
            )
        if self.anchor_ids is not None:
            cand = self.candidate_ids[col_start:col_stop]
            excluded |= (self.anchor_ids[row_start:row_stop, None] == cand[None, :]) & (
                cand[None, :] >= 0
            )
            excluded &= ~positive
        if self.self_index is not None:
            is_self = self.self_index[row_start:row_stop, None] == cols[None, :]
            excluded |= is_self
            positive &= ~is_self
        negative = ~(positive | excluded)
        return positive, negative
