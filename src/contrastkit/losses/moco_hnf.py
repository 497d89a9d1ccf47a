"""MoCo with hard negatives filtered from the queue (MoCo-HNF)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..scale.hard_negatives import BLOCK_ROWS, hard_negative_indices
from ._common import ContrastiveLoss, check_feature_dim, check_same_shape, reduce
from ._false_negatives import add_count


class MoCoHNF(ContrastiveLoss):
    r"""MoCo's InfoNCE (He et al., 2020, arXiv:1911.05722, Eq. 1) over hard negatives selected from
    the queue: for each query the ``top_k`` most similar queue keys, after dropping keys whose cosine
    exceeds ``duplicate_threshold`` (near-duplicates of the query, presumed false negatives).

    .. math::
        \ell_i = -\log\frac{e^{s(q_i, k_i)}}{e^{s(q_i, k_i)} + \sum_{j\in H_i} e^{s(q_i, m_j)}},\qquad
        s(a, b) = \langle\hat a,\hat b\rangle/\tau,
        \qquad H_i = \mathrm{top}_k\{j : \langle\hat q_i,\hat m_j\rangle \le t\}

    Choices where the description leaves them open: the selection uses the current query and is not
    differentiated (the chosen keys are queue entries, detached anyway); the in-batch keys of other
    queries are not negatives (MoCo's logits are ``[positive, queue]``); a query with fewer than
    ``top_k`` keys under the threshold uses those it has. ``loss.false_negative_count`` counts the
    (query, queue key) pairs dropped as near-duplicates in the last forward.

    Args:
        temperature: :math:`\tau > 0` (default 0.2, MoCo v2).
        top_k: hard negatives per query, ``1 <= top_k <= len(queue)``.
        duplicate_threshold: :math:`t`, a finite cosine, or ``None`` (keep every key).
        learnable_temperature, normalize, reduction: see :class:`~contrastkit.losses.InfoNCE`.
    Shapes:
        query, key ``(N, d)``; queue ``(K, d)`` (e.g. :meth:`contrastkit.scale.Queue.negatives`).
    Raises:
        ValueError: names the argument, for bad shapes, non-finite input, a queue smaller than
        ``top_k`` (named ``top_k``), a non-finite ``duplicate_threshold``.
    """

    def __init__(self, temperature: float = 0.2, top_k: int = 1024,
                 duplicate_threshold: float | None = 0.95, **options):
        super().__init__(temperature, **options)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k: expected a positive int, got {top_k!r}")
        if duplicate_threshold is not None and not math.isfinite(float(duplicate_threshold)):
            raise ValueError(
                f"duplicate_threshold: expected a finite float or None, got {duplicate_threshold!r}")
        self.top_k = top_k
        self.duplicate_threshold = None if duplicate_threshold is None else float(duplicate_threshold)

    def forward(self, query: Tensor, key: Tensor, queue: Tensor) -> Tensor:
        q, k = self.prepare("query", query), self.prepare("key", key)
        check_same_shape("query", q, "key", k)
        m = self.prepare("queue", queue).to(q.dtype)
        check_feature_dim("queue", m, q.shape[1])
        scale = self.temperature.scale()
        index, valid, dropped = hard_negative_indices(q, m, self.top_k, self.duplicate_threshold)
        add_count(self, dropped)
        positive = (q * k).sum(dim=1) * scale
        # the chosen keys' logits, gathered from row blocks of q m^T (no (N, top_k, d) copy of the keys)
        negatives = torch.cat([(q[r:r + BLOCK_ROWS] @ m.T).gather(1, index[r:r + BLOCK_ROWS])
                               for r in range(0, q.shape[0], BLOCK_ROWS)]) * scale
        negatives = negatives.masked_fill(~valid, float("-inf"))
        per_anchor = torch.logsumexp(torch.cat([positive[:, None], negatives], dim=1), dim=1) - positive
        return reduce(per_anchor, self.reduction)
