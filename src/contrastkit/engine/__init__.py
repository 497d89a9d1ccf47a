"""Exact pair statistics for contrastive objectives.

Every loss in :mod:`contrastkit.losses` is a short formula over :func:`pair_statistics`, which
compares anchors ``A (N x d)`` with candidates ``C (M x d)`` through scaled logits
``s_ij = scale * <a_i, c_j>`` and reduces them per anchor (and per candidate) according to a
:class:`PairStructure`. The backend that computes them is replaceable without touching any loss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor

from .false_negatives import check_false_negative_options, false_negative_ceiling, with_ceiling
from .reference import accumulation_dtype, reference_pair_statistics
from .selection import materialised_bytes, prefers_streaming
from .stats import ALL_STATS, COL_STATS, ROW_STATS, PairStats, check_wanted
from .streaming import streaming_pair_statistics
from .structure import PairStructure

BACKENDS: dict[str, Callable[..., PairStats]] = {
    "reference": reference_pair_statistics,
    "streaming": streaming_pair_statistics,
}
BACKEND_NAMES = ("auto", "reference", "streaming")


def check_backend(backend: str) -> str:
    if backend not in BACKEND_NAMES:
        raise ValueError(f"backend: expected one of {BACKEND_NAMES}, got {backend!r}")
    return backend


def resolve_backend(backend: str, num_anchors: int, num_candidates: int, dim: int,
                    device: torch.device) -> str:
    """Pick a concrete backend name; ``auto`` streams once the materialised path would be large
    (the rule of :mod:`.selection`: estimated memory of the materialised path)."""
    check_backend(backend)
    if backend == "auto":
        return "streaming" if prefers_streaming(num_anchors, num_candidates, dim, device) else "reference"
    return backend


def pair_statistics(
    anchors: Tensor,
    candidates: Tensor,
    structure: PairStructure,
    want: Iterable[str],
    *,
    scale: Tensor | float,
    tilts: Iterable[float] = (1.0,),
    bias: Tensor | float | None = None,
    row_negatives: Tensor | None = None,
    backend: str = "auto",
    tile_size: int | None = None,
) -> PairStats:
    """Compute the requested statistics of ``s = scale * anchors @ candidates.T``.

    Args:
        anchors: ``(N, d)`` floating tensor.
        candidates: ``(M, d)`` floating tensor, same dtype and device.
        structure: positive / exclusion rules (:class:`PairStructure`) for ``N`` x ``M`` pairs.
        want: names from :data:`ALL_STATS`.
        scale: inverse temperature, a float or a 0-d tensor (may require grad).
        tilts: the ``g`` of ``lse_neg`` (one output column per tilt).
        bias: additive logit bias of the pairwise-sigmoid terms (``pair_sum``).
        row_negatives: optional ``(N, K, d)`` per-anchor extra negatives.
        backend: ``"auto"``, ``"reference"`` or ``"streaming"``.
        tile_size: edge of the streaming backend's square tiles of logits (ignored by the reference).

    Returns:
        :class:`PairStats` with float32 tensors (float64 for float64 inputs).
    """
    want = check_wanted(tuple(want))
    tilts = tuple(float(g) for g in tilts)
    if not tilts:
        raise ValueError("tilts: expected at least one tilt")
    if anchors.dim() != 2 or candidates.dim() != 2:
        raise ValueError(
            f"anchors, candidates: expected 2-D tensors, got {tuple(anchors.shape)} and "
            f"{tuple(candidates.shape)}"
        )
    if anchors.shape[1] != candidates.shape[1]:
        raise ValueError(
            f"candidates: feature size {candidates.shape[1]} does not match anchors' {anchors.shape[1]}"
        )
    n, m = anchors.shape[0], candidates.shape[0]
    if (structure.num_anchors, structure.num_candidates) != (n, m):
        raise ValueError(
            f"structure: built for {structure.num_anchors} x {structure.num_candidates} pairs, "
            f"got {n} anchors x {m} candidates"
        )
    if row_negatives is not None and (
        row_negatives.dim() != 3 or row_negatives.shape[0] != n
        or row_negatives.shape[2] != anchors.shape[1]
    ):
        raise ValueError(
            f"row_negatives: expected shape ({n}, K, {anchors.shape[1]}), got {tuple(row_negatives.shape)}"
        )
    if structure.score_ceiling is not None:
        if any(w.startswith("col_") for w in want):
            raise ValueError("want: column statistics are not defined with a score_ceiling (rule 6 is "
                             "per anchor); run the other direction as its own row pass")
        value = float(scale.detach()) if isinstance(scale, Tensor) else float(scale)
        if not value > 0:
            raise ValueError(f"scale: a score_ceiling needs scale > 0, got {value}")
    name = resolve_backend(backend, n, m, anchors.shape[1], anchors.device)
    kwargs = {"scale": scale, "tilts": tilts, "bias": bias, "row_negatives": row_negatives}
    if name != "reference" and tile_size is not None:
        kwargs["tile_size"] = tile_size
    return BACKENDS[name](anchors, candidates, structure, want, **kwargs)


__all__ = [
    "ALL_STATS",
    "BACKENDS",
    "COL_STATS",
    "ROW_STATS",
    "PairStats",
    "PairStructure",
    "accumulation_dtype",
    "check_backend",
    "check_false_negative_options",
    "false_negative_ceiling",
    "materialised_bytes",
    "pair_statistics",
    "prefers_streaming",
    "reference_pair_statistics",
    "resolve_backend",
    "streaming_pair_statistics",
    "with_ceiling",
]
