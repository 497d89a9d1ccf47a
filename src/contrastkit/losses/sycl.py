"""SyCL: list-wise training over graded relevance (softmax over a query's list vs its relevance)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..validation import check_embeddings, check_positive_float
from ._common import check_reduction, normalize, reduce

DISTANCES = ("wasserstein", "kl")


def check_relevance(relevance: Tensor, shape: tuple[int, int], device, dtype) -> Tensor:
    """Finite, non-negative ``(Q, L)`` grades with a positive sum in every row."""
    if not isinstance(relevance, Tensor):
        relevance = torch.as_tensor(relevance)
    if relevance.shape != shape or relevance.is_complex() or relevance.dtype == torch.bool:
        raise ValueError(f"relevance: expected a real tensor of shape {shape}, got {relevance.dtype} "
                         f"of shape {tuple(relevance.shape)}")
    relevance = relevance.to(device=device, dtype=dtype)
    if not torch.isfinite(relevance).all():
        raise ValueError("relevance: contains NaN or infinite values")
    if bool((relevance < 0).any()):
        raise ValueError("relevance: expected grades >= 0")
    if bool((relevance.sum(dim=1) <= 0).any()):
        raise ValueError("relevance: a query's grades are all 0, so they cannot be normalised")
    return relevance


class SyCL(nn.Module):
    r"""List-wise loss over graded relevance of SyCL (Esfandiarpoor, Zerveas, Zhang, Mgonzo, Eickhoff
    & Bach, Findings of EMNLP 2025, "Beyond Contrastive Learning: Synthetic Data Enables List-wise
    Training with Multiple Levels of Relevance", arXiv:2503.23239).

    Each query ``q`` comes with a list of ``L`` documents and their relevance grades ``r_{ql} >= 0``
    (SyCL's levels 3, 2, 1, 0). The model's distribution over the list is the softmax of its scores,
    the target the normalised grades, and the loss a distance between the two:

    .. math::
        p_{ql} = \frac{e^{s_{ql}}}{\sum_{m} e^{s_{qm}}},\quad
        s_{ql} = \langle \hat q, \hat d_{ql}\rangle/\tau,\qquad
        \pi_{ql} = \frac{r_{ql}}{\sum_m r_{qm}}

        W_1(p_q, \pi_q) = \sum_{l=1}^{L-1}\Big|\sum_{m\le l} (p_{qm} - \pi_{qm})\Big|
        \ (\texttt{"wasserstein"}),\qquad
        \mathrm{KL}(\pi_q\,\|\,p_q) = \sum_l \pi_{ql}\log\frac{\pi_{ql}}{p_{ql}}\ (\texttt{"kl"})

    averaged over queries. **Choice, not verified against released code** (the authors' repository,
    BatsResearch/sycl, could not be read here): the paper names a Wasserstein distance between the
    two list distributions; contrastkit takes the list's own order as the one-dimensional support
    with unit spacing (documents given from most to least relevant, as SyCL's ranking contexts
    are), where the Wasserstein-1 distance is the L1 distance of the cumulative sums above.
    ``distance="kl"`` is ListNet's cross-entropy minus the target's entropy (order-free). Both are
    non-negative and 0 exactly when the softmax equals the normalised grades.

    Each query's softmax runs over its own list (``Q x L`` scores, no shared candidates), so the
    scores are formed directly rather than through the engine.

    Args:
        temperature: ``tau > 0`` (default 0.05).
        distance: ``"wasserstein"`` (default) or ``"kl"``.
        normalize: L2-normalise queries and documents (default True).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (``(Q,)``).
    Shapes:
        query ``(Q, d)``; documents ``(Q, L, d)`` with ``L >= 2``; relevance ``(Q, L)`` real, ``>= 0``,
        not all 0 in a row.
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, negative grades, a row
        of zero grades, a list shorter than 2, an unknown distance or ``temperature <= 0``.
    """

    def __init__(self, temperature: float = 0.05, distance: str = "wasserstein", normalize: bool = True,
                 reduction: str = "mean"):
        super().__init__()
        if distance not in DISTANCES:
            raise ValueError(f"distance: expected one of {DISTANCES}, got {distance!r}")
        self.temperature = check_positive_float("temperature", temperature)
        self.distance, self.normalize = distance, bool(normalize)
        self.reduction = check_reduction(reduction)

    def forward(self, query: Tensor, documents: Tensor, relevance: Tensor) -> Tensor:
        check_embeddings("query", query)
        check_embeddings("documents", documents, ndim=3)
        q_count, length, d = documents.shape
        if q_count != query.shape[0] or d != query.shape[1]:
            raise ValueError(f"documents: expected shape ({query.shape[0]}, L, {query.shape[1]}), "
                             f"got {tuple(documents.shape)}")
        if length < 2:
            raise ValueError(f"documents: expected a list of at least 2 documents per query, got {length}")
        q = normalize(query, self.normalize)
        docs = normalize(documents, self.normalize).to(q.dtype)
        target = check_relevance(relevance, (q_count, length), q.device, q.dtype)
        target = target / target.sum(dim=1, keepdim=True)
        log_p = torch.log_softmax(torch.einsum("qd,qld->ql", q, docs) / self.temperature, dim=1)
        if self.distance == "kl":
            kept = target > 0  # 0 log 0 = 0, with a finite gradient for grades that require one
            log_target = torch.log(torch.where(kept, target, torch.ones_like(target)))
            per_query = (target * (log_target - log_p)).sum(dim=1).clamp_min(0)
        else:
            gap = torch.cumsum(log_p.exp() - target, dim=1)[:, :-1]
            per_query = gap.abs().sum(dim=1)
        return reduce(per_query, self.reduction)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature:g}, distance={self.distance!r}"
