"""Weighted InfoNCE: per-pair relevance weights multiply each anchor's InfoNCE term (GCL)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..engine import PairStructure, accumulation_dtype
from ._common import ContrastiveLoss, check_same_shape
from ._false_negatives import statistics
from ._views import check_instances

NORMALIZERS = ("sum_weights", "batch")


def check_weights(weights: Tensor, n: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Finite, non-negative ``(n,)`` weights, returned in ``dtype`` on ``device``."""
    if not isinstance(weights, Tensor):
        weights = torch.as_tensor(weights)
    if weights.dim() != 1 or weights.shape[0] != n:
        raise ValueError(f"weights: expected a 1-D tensor of length {n}, got shape {tuple(weights.shape)}")
    if weights.is_complex() or weights.dtype == torch.bool:
        raise ValueError(f"weights: expected a real tensor, got {weights.dtype}")
    weights = weights.to(device=device, dtype=dtype)
    if not torch.isfinite(weights).all():
        raise ValueError("weights: contains NaN or infinite values")
    if bool((weights < 0).any()):
        raise ValueError("weights: expected values >= 0")
    return weights


class WeightedInfoNCE(ContrastiveLoss):
    r"""Weighted InfoNCE of Generalized Contrastive Learning (Zhu, Jung & Clark, 2024, "Generalized
    Contrastive Learning for Multi-Modal Retrieval and Ranking", arXiv:2404.08535).

    .. math::
        \mathcal{L} = \frac{1}{Z}\sum_{i=1}^{N} w_i\Big[-s_{ii}
            + \log\sum_{j=1}^{N} e^{s_{ij}}\Big],\qquad
        s_{ij} = \langle \hat q_i, \hat d_j\rangle/\tau,\quad
        Z = \sum_i w_i \ (\texttt{"sum\_weights"})\ \text{or}\ N\ (\texttt{"batch"})

    Each (query, document) pair carries a weight :math:`w_i \ge 0`, a score-to-weight mapping of
    its graded relevance, so that pairs of higher weight cost more. In-batch documents are the
    negatives; one direction (query to document).

    **What could not be verified:** GCL's training code is unreleased (marqo-ai/GCL README:
    "Release WIP"). The form above follows the paper's description of a weighted cross-entropy
    over in-batch candidates. The normaliser :math:`Z` (``normalizer`` chooses; ``sum_weights`` by
    default), whether a document-to-query term is added, and how duplicate documents in a batch
    are handled (here: they are negatives) are not confirmed by any released code.

    Args:
        temperature: :math:`\tau > 0` (default 0.05).
        normalizer: ``"sum_weights"`` (default) or ``"batch"``.
        learnable_temperature, normalize, backend, tile_size: see :class:`InfoNCE`.
        reduction: ``"mean"`` divides by :math:`Z`; ``"sum"`` returns
            :math:`\sum_i w_i \ell_i`; ``"none"`` the ``(N,)`` weighted terms :math:`w_i \ell_i`.
        gather_distributed: the documents of every rank are candidates (gathered with gradient)
            and :math:`Z` runs over every rank's weights (or ``N`` is the global batch); ``mean``
            is this rank's share, scaled for DDP's gradient average (see :class:`ContrastiveLoss`).
    Shapes:
        query, document ``(N, d)``; weights ``(N,)`` real, finite, ``>= 0``.
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input or weights, negative
        weights, all-zero weights with ``normalizer="sum_weights"``, an unknown ``normalizer``,
        ``temperature <= 0``, or weights so large that the weighted loss overflows (only where
        it is not scale-free, i.e. not ``"mean"`` with ``"sum_weights"``).
    """

    supports_gather_distributed = True
    supports_false_negatives = True

    def __init__(self, temperature: float = 0.05, normalizer: str = "sum_weights", **options):
        super().__init__(temperature, **options)
        if normalizer not in NORMALIZERS:
            raise ValueError(f"normalizer: expected one of {NORMALIZERS}, got {normalizer!r}")
        self.normalizer = normalizer

    def forward(self, query: Tensor, document: Tensor, weights: Tensor) -> Tensor:
        q = self.prepare("query", query)
        k = self.prepare("document", document)
        check_same_shape("query", q, "document", k)
        n = q.shape[0]
        w = check_weights(weights, n, q.device, accumulation_dtype(q))
        (documents, all_weights), rows = self.gather(k, w)
        check_instances("query", rows.total)
        total = all_weights.sum()
        if self.reduction == "mean" and self.normalizer == "sum_weights" and float(total.detach()) <= 0:
            raise ValueError("weights: all weights are 0, so normalizer='sum_weights' divides by 0")
        structure = PairStructure(n, rows.total,
                                  pos_index=torch.arange(rows.offset, rows.offset + n, device=q.device))
        stats = statistics(self, q, documents, structure, {"lse_all", "pos_sum"},
                                scale=self.temperature.scale(), **self.engine_options())
        per_anchor = stats.lse_all - stats.pos_sum
        if self.reduction == "mean" and self.normalizer == "sum_weights":
            # sum(w l) / sum(w) is scale-free: divide the weights by their largest first, so that
            # weights near the dtype's maximum neither overflow the sum nor give inf / inf = NaN
            largest = all_weights.max()
            return (w / largest * per_anchor).sum() * rows.world_size / (all_weights / largest).sum()
        weighted = w * per_anchor
        if self.reduction == "mean":
            weighted = weighted * (rows.world_size / rows.total)
        out = weighted if self.reduction == "none" else weighted.sum()
        if not torch.isfinite(out.detach()).all():
            raise ValueError(f"weights: the weighted loss overflows {out.dtype} (largest weight "
                             f"{float(w.max()):.3g}); rescale the weights")
        return out

    def extra_repr(self) -> str:
        return f"normalizer={self.normalizer!r}"
