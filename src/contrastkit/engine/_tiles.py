"""Tile-level pieces of the streaming engine: which pairs of a tile are special, and running sums.

A tile is the block of logits ``s[r0:r1, c0:c1]``. Most tiles of a typical structure (the diagonal,
NT-Xent's two views) contain only negatives; :class:`TileClassifier` says so from the small rule
vectors and builds the dense ``(positive, negative)`` masks only for the tiles where a rule fires.

:class:`RunningLogSumExp` accumulates ``log sum exp(x)`` over tiles in one of two exact ways:

* *fixed shift*: when every logit is bounded, ``|x| <= B`` with a small ``B`` (normalised embeddings
  at a moderate temperature), ``exp(x - B)`` neither overflows nor loses the largest term, so plain
  sums of ``exp(x - B)`` suffice, and one ``exp`` of a tile serves its rows and its columns alike;
* *online max*: otherwise the running maximum is tracked and the running sum rescaled by
  ``exp(m_old - m_new)`` whenever it grows (the streaming softmax of Milakov & Gimelshein, 2018,
  arXiv:1805.02867).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .structure import PairStructure

#: the largest shift ``B`` for which a fixed shift is used: ``exp(-2B)`` must stay a normal float32.
FIXED_SHIFT_LIMIT = 30.0


class SparseTile:
    """Special pairs of a tile whose structure has no label rule: local ``(rows, cols)`` coordinates
    of its positives (``pos_index``) and of its ``self_index`` exclusions, and, with id rules, the
    boolean mask :attr:`id_excluded` of the pairs rule 4 excludes (``None`` without ids)."""

    def __init__(self, structure: PairStructure, r0: int, r1: int, c0: int, c1: int,
                 device: torch.device):
        self.bounds, self.structure, self.device = (r0, r1, c0, c1), structure, device
        s = structure
        own = None if s.self_index is None else s.self_index[r0:r1]
        self.positive = self.excluded = None
        if s.pos_index is not None:
            p = s.pos_index[r0:r1]
            hit = (p >= c0) & (p < c1)
            if own is not None:
                hit &= p != own
            rows = hit.nonzero().squeeze(1)
            self.positive = (rows, p[rows] - c0) if rows.numel() else None
        if own is not None:
            rows = ((own >= c0) & (own < c1)).nonzero().squeeze(1)
            self.excluded = (rows, own[rows] - c0) if rows.numel() else None
        self.id_excluded = None
        if s.anchor_ids is not None:
            cand = s.candidate_ids[c0:c1]
            same = (s.anchor_ids[r0:r1, None] == cand[None, :]) & (cand[None, :] >= 0)
            if self.positive is not None:
                same[self.positive] = False  # rule 2 comes first
            self.id_excluded = same if bool(same.any()) else None

    def dense(self) -> tuple[Tensor, Tensor]:
        r0, r1, c0, c1 = self.bounds
        return self.structure.tile_masks(r0, r1, c0, c1, self.device)


class TileClassifier:
    """Classifies a tile: ``None`` when every pair is a negative, a :class:`SparseTile` when the
    structure has only index rules, else the dense ``(positive, negative)`` masks."""

    def __init__(self, structure: PairStructure):
        self.structure = structure
        self.sparse = structure.anchor_labels is None

    def has_special_pairs(self, r0: int, r1: int, c0: int, c1: int) -> bool:
        """Whether rules 1-4 single out a pair of the tile (rule 6, on scores, is applied apart)."""
        s = self.structure
        for index in (s.pos_index, s.self_index):
            if index is not None:
                part = index[r0:r1]
                if bool(((part >= c0) & (part < c1)).any()):
                    return True
        for anchor, candidate in ((s.anchor_labels, s.candidate_labels), (s.anchor_ids, s.candidate_ids)):
            if anchor is not None and bool((candidate[c0:c1] >= 0).any()) \
                    and bool((anchor[r0:r1] >= 0).any()):
                return True
        return False

    def masks(self, r0: int, r1: int, c0: int, c1: int, device: torch.device):
        if not self.has_special_pairs(r0, r1, c0, c1):
            return None
        if self.sparse:
            return SparseTile(self.structure, r0, r1, c0, c1, device)
        return self.structure.tile_masks(r0, r1, c0, c1, device)


def dense_masks(masks):
    """Dense ``(positive, negative)`` masks of a tile classification (``None`` stays ``None``)."""
    return masks.dense() if isinstance(masks, SparseTile) else masks


def set_logits(s: Tensor, masks: tuple[Tensor, Tensor] | None, which: str, gamma: float) -> Tensor | None:
    """``gamma * s`` with ``-inf`` outside the pair set ``which`` (``kept``, ``neg`` or ``pos``);
    ``None`` when the set is empty in this tile."""
    if masks is None:
        if which == "pos":
            return None
        return s if gamma == 1.0 else s * gamma
    positive, negative = masks
    keep = {"pos": positive, "neg": negative, "kept": positive | negative}[which]
    x = s if gamma == 1.0 else s * gamma
    return x.masked_fill(~keep, float("-inf"))


def set_key(masks: tuple[Tensor, Tensor] | None, which: str, gamma: float) -> tuple[str, float]:
    """Key under which tiles share logits: with no special pairs ``kept`` and ``neg`` coincide."""
    if masks is None and which != "pos":
        return ("all", gamma)
    return (which, gamma)


class RunningLogSumExp:
    """``log sum_j exp(x_ij)`` per index ``i`` of a vector of ``size``, accumulated over tiles.

    Args:
        size: number of independent reductions (rows or columns).
        shift: the fixed shift ``B`` (see the module docstring), or ``None`` for the online maximum.
    """

    def __init__(self, size: int, shift: float | None, dtype: torch.dtype, device: torch.device):
        self.shift = shift
        self.total = torch.zeros(size, dtype=dtype, device=device)
        self.peak = None if shift is not None else torch.full((size,), float("-inf"), dtype=dtype,
                                                             device=device)

    def add_shifted_sum(self, where: slice, shifted_sum: Tensor) -> None:
        """Fixed-shift mode: add ``sum exp(x - shift)`` of one tile."""
        self.total[where] += shifted_sum

    def update(self, where: slice, x: Tensor, dim: int) -> None:
        """Online mode: fold one tile ``x`` (reduced along ``dim``) into the running sums."""
        old = self.peak[where]
        new = torch.maximum(old, x.amax(dim))
        base = new.masked_fill(torch.isinf(new), 0.0)  # an all -inf slice stays at sum 0
        e = torch.exp(x - (base.unsqueeze(dim)))
        self.total[where] = self.total[where] * torch.exp(old - base) + e.sum(dim)
        self.peak[where] = new

    def result(self) -> Tensor:
        offset = self.shift if self.peak is None else self.peak.masked_fill(torch.isinf(self.peak), 0.0)
        return torch.log(self.total) + offset


def backward_offset(lse: Tensor) -> Tensor:
    """``lse`` with ``-inf`` (an empty set) replaced by ``+inf``, so that ``exp(x - lse) = 0``."""
    return lse.masked_fill(torch.isneginf(lse), float("inf"))
