"""MoCo with hard negatives filtered from the queue (MoCo-HNF)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..scale.hard_negatives import BLOCK_ROWS, hard_negative_scores
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
        chosen, valid, dropped = _ChosenScores.apply(q, m, self.top_k, self.duplicate_threshold)
        add_count(self, dropped)
        positive = (q * k).sum(dim=1) * scale
        negatives = (chosen * scale).masked_fill(~valid, float("-inf"))
        per_anchor = torch.logsumexp(torch.cat([positive[:, None], negatives], dim=1), dim=1) - positive
        return reduce(per_anchor, self.reduction)


class _ChosenScores(torch.autograd.Function):
    """``(scores, valid, dropped)`` of the hard negatives: ``scores[i, j] = <q_i, m_index(i,j)>`` (0 in the
    empty slots, ``valid`` False there). The scores come from the selection's own product ``q m^T``, and
    the backward is that of gathering them from it, in the same row blocks (the dense block of
    scattered gradients times ``m``), so values and gradients are those of a second product + gather
    (profile at N = K = 4,096, d = 128, top_k = 256: the second product was ~0.1 s of ~0.9 s)."""

    @staticmethod
    def forward(ctx, q: Tensor, m: Tensor, top_k: int, threshold: float | None):
        index, scores, dropped = hard_negative_scores(q, m, top_k, threshold)
        valid = torch.isfinite(scores)
        ctx.save_for_backward(q, m, index)
        ctx.mark_non_differentiable(valid, dropped)
        return scores.masked_fill_(~valid, 0.0), valid, dropped

    @staticmethod
    def backward(ctx, grad: Tensor, _valid, _dropped):
        q, m, index = ctx.saved_tensors
        grad_q = torch.empty_like(q) if ctx.needs_input_grad[0] else None
        grad_m = None
        # last block first: the order in which autograd summed the blocks' products into m's gradient
        for r in reversed(range(0, q.shape[0], BLOCK_ROWS)):
            rows = slice(r, r + BLOCK_ROWS)
            dense = grad.new_zeros(index[rows].shape[0], m.shape[0]).scatter_add_(1, index[rows], grad[rows])
            if grad_q is not None:
                grad_q[rows] = dense @ m
            if ctx.needs_input_grad[1]:
                block = dense.T @ q[rows]
                grad_m = block if grad_m is None else grad_m + block
        return grad_q, grad_m, None, None
