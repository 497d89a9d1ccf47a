"""The ``false_negative_margin`` / ``false_negative_threshold`` options of the softmax-type losses.

A loss built on :class:`~._common.ContrastiveLoss` with ``supports_false_negatives = True`` calls
:func:`statistics` instead of :func:`~contrastkit.engine.pair_statistics`: the engine's rule 6
(:mod:`contrastkit.engine.false_negatives`) then excludes, per anchor ``i``, every would-be negative
``j`` with ``cos(a_i, c_j) > cos(a_i, c_pos(i)) - margin`` and/or ``cos(a_i, c_j) > threshold``
(raw inner products when ``normalize=False``), decided inside the engine's tiles. The number of
pairs excluded during the last forward is ``loss.false_negative_count`` (a 0-d tensor, for logging).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..engine import PairStats, PairStructure, false_negative_ceiling, pair_statistics, with_ceiling


def filtering(loss) -> bool:
    """Whether ``loss`` excludes false negatives by score."""
    return getattr(loss, "false_negative_margin", None) is not None or \
        getattr(loss, "false_negative_threshold", None) is not None


def reset_count(loss, *_) -> None:
    """Forward pre-hook: the count covers one forward call (every engine pass in it)."""
    loss.false_negative_count = None


def ceiling_for(loss, anchors: Tensor, candidates: Tensor, structure: PairStructure,
                positives: Tensor | None = None) -> Tensor | None:
    """The per-anchor score ceiling of ``loss``'s options (``None`` when it does not filter)."""
    if not filtering(loss):
        return None
    return false_negative_ceiling(anchors, candidates, structure, margin=loss.false_negative_margin,
                                  threshold=loss.false_negative_threshold, positives=positives)


def add_count(loss, excluded: Tensor) -> None:
    """Add excluded pairs (any shape, summed) to ``loss.false_negative_count``."""
    total = excluded.detach().sum()
    previous = getattr(loss, "false_negative_count", None)
    loss.false_negative_count = total if previous is None else previous + total


def statistics(loss, anchors: Tensor, candidates: Tensor, structure: PairStructure, want, *,
               positives: Tensor | None = None, ceiling: Tensor | None = None,
               needs_negatives: bool = False, **kwargs) -> PairStats:
    """:func:`~contrastkit.engine.pair_statistics` with ``loss``'s false-negative rule.

    Args:
        positives: unscaled positive scores ``(N,)`` for losses that score their positives outside
            the engine (``nan``: none); by default the structure's positives are used.
        ceiling: a ceiling already computed by :func:`ceiling_for` (then ``positives`` is unused).
        needs_negatives: the loss takes ``lse_neg`` and has no value for an anchor whose every
            negative was excluded: raise ``ValueError`` instead of returning ``-inf``.
        kwargs: forwarded (``scale``, ``tilts``, ``backend``, ...).
    """
    if ceiling is None:
        ceiling = ceiling_for(loss, anchors, candidates, structure, positives)
    if ceiling is None:
        return pair_statistics(anchors, candidates, structure, want, **kwargs)
    stats = pair_statistics(anchors, candidates, with_ceiling(structure, ceiling), {*want, "fn_count"},
                            **kwargs)
    add_count(loss, stats.fn_count)
    if needs_negatives and stats.lse_neg is not None:
        emptied = torch.isneginf(stats.lse_neg).any(-1) & (stats.fn_count > 0)
        if bool(emptied.any()):
            first = int(emptied.nonzero()[0])
            name = "false_negative_threshold" if loss.false_negative_threshold is not None \
                else "false_negative_margin"
            raise ValueError(f"{name}: excluded every negative of anchor {first}, which "
                             f"{type(loss).__name__} needs; loosen it")
    return stats
