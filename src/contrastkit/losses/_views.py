"""Input checks shared by the two-view ``(z1, z2)`` and multi-view ``(N, V, d)`` losses."""

from __future__ import annotations

import torch
from torch import Tensor

from ..engine import PairStructure
from ..scale.distributed import RankRows
from ._common import ContrastiveLoss, check_same_shape
from ._false_negatives import statistics


def check_min_rows(name: str, x: Tensor, minimum: int) -> None:
    """Raise ``ValueError`` naming ``name`` when ``x`` has fewer than ``minimum`` rows (instances)."""
    check_instances(name, x.shape[0], minimum)


def check_instances(name: str, count: int, minimum: int = 2, hint: str = "") -> None:
    """The one N = 1 rule of every loss that needs negatives: fewer than ``minimum`` instances
    (counted over every rank when gathered) is a ``ValueError`` naming ``name``, never a silent 0."""
    if count < minimum:
        raise ValueError(
            f"{name}: expected at least {minimum} instances (the loss needs negatives), "
            f"got {count}{hint}"
        )


def prepare_two_views(loss: ContrastiveLoss, z1: Tensor, z2: Tensor,
                      min_rows: int = 2) -> tuple[Tensor, Tensor]:
    """Validate ``z1, z2`` (both ``(N, d)``, finite, same shape, ``N >= min_rows``) and return them
    L2-normalised (unless ``loss.normalize`` is off) in float32, or float64 if either is float64."""
    u = loss.prepare("z1", z1)
    v = loss.prepare("z2", z2)
    check_same_shape("z1", u, "z2", v)
    check_min_rows("z1", u, min_rows)
    dtype = torch.promote_types(u.dtype, v.dtype)
    return u.to(dtype), v.to(dtype)


def prepare_multi_views(loss: ContrastiveLoss, views: Tensor, min_rows: int = 2) -> Tensor:
    """Validate ``views`` of shape ``(N, V, d)`` with ``V >= 2`` and ``N >= min_rows``; return them
    L2-normalised along ``d`` (unless ``loss.normalize`` is off) in float32 (float64 stays)."""
    x = loss.prepare("views", views, ndim=3)
    if x.shape[1] < 2:
        raise ValueError(
            f"views: expected at least 2 views along dim 1 of (N, V, d), got shape {tuple(x.shape)}"
        )
    check_min_rows("views", x, min_rows)
    return x


def within_instance_logits(views: Tensor, scale: Tensor | float) -> Tensor:
    """``(N, V, V)`` scaled similarities between the views of each instance:
    ``out[i, a, b] = scale * <views[i, a], views[i, b]>`` (``O(N V^2 d)``, no ``N x N`` matrix)."""
    return torch.einsum("nad,nbd->nab", views, views) * scale


def other_view_scores(views: Tensor) -> Tensor:
    """``(N, V)`` mean unscaled score of each view with the instance's other views (the positive
    score of the false-negative margin rule for losses whose positives are an instance's views)."""
    gram = within_instance_logits(views.detach(), 1.0)
    return (gram.sum(-1) - gram.diagonal(dim1=1, dim2=2)) / (views.shape[1] - 1)


def same_view_energy(loss: ContrastiveLoss, x: Tensor, candidates: Tensor, rows: RankRows,
                     positives: Tensor | None = None) -> Tensor:
    """``log sum_{j != i} exp(<x_i, c_j> / tau)`` for every row ``i`` of ``x``, shape ``(N,)``, where
    ``candidates`` are ``x`` (one process) or every rank's rows of the same view (``x`` at
    ``rows.offset``), as :meth:`ContrastiveLoss.gather` returns them. ``positives``: the rows'
    unscaled positive scores, for the loss's false-negative margin."""
    n = x.shape[0]
    structure = PairStructure(n, rows.total,
                              self_index=torch.arange(rows.offset, rows.offset + n, device=x.device))
    stats = statistics(loss, x, candidates, structure, {"lse_neg"}, positives=positives, needs_negatives=True,
                       scale=loss.temperature.scale(), **loss.engine_options())
    return stats.lse_neg[:, 0]
