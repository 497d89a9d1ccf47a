"""Supervised SimCSE: in-batch positives and hard negatives, own hard negative optionally up-weighted."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..engine import PairStructure
from ._common import ContrastiveLoss, check_same_shape
from ._false_negatives import add_count, ceiling_for, statistics
from ._views import check_instances


class SupervisedSimCSE(ContrastiveLoss):
    r"""Supervised SimCSE (Gao, Yao & Chen, 2021, "SimCSE: Simple Contrastive Learning of Sentence
    Embeddings", EMNLP 2021, arXiv:2104.08821, supervised objective), with the official code's hard-negative
    weight (princeton-nlp/SimCSE ``simcse/models.py``).

    .. math::
        \ell_i = -\frac{s(h_i, h_i^+)}{\tau} + \log\sum_{j=1}^{N}\Big(e^{s(h_i, h_j^+)/\tau}
            + \alpha^{[i = j]}\, e^{s(h_i, h_j^-)/\tau}\Big),\qquad
        \mathcal{L} = \frac{1}{N}\sum_i \ell_i

    :math:`s` is the cosine similarity. Each anchor meets the positives and hard negatives of the
    whole batch (logits ``N x 2N`` against ``[h+ | h-]``); every other row's positive and hard
    negative is a negative. ``hard_negative_weight`` is :math:`\log\alpha`, added to the logit of
    the anchor's **own** hard negative only (default 0, :math:`\alpha = 1`, as the official code).
    The own hard negative is excluded from the engine's candidates and added back per row with a
    log-add-exp, so no ``N x 2N`` tensor is built.

    The unsupervised SimCSE (the same sentences encoded twice with different dropout
    masks, anchors = first pass, candidates = second pass, one direction) is exactly
    :class:`InfoNCE` with the default ``symmetric=False``; here it is also what
    ``hard_negative=None`` computes. Duplicate sentences in a batch are negatives, as in the
    official code.

    Args:
        temperature: :math:`\tau > 0` (default 0.05, the paper's).
        hard_negative_weight: :math:`\log\alpha`, any finite float (default 0.0).
        learnable_temperature, normalize, reduction, backend, tile_size: see :class:`InfoNCE`.
        gather_distributed: the positives and hard negatives of every rank are candidates
            (gathered with gradient); ``mean`` is this rank's share of the global mean.
    Shapes:
        anchor, positive, hard_negative ``(N, d)``; ``reduction="none"`` returns ``(N,)``.
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, ``temperature <= 0``
        or a non-finite ``hard_negative_weight``.
    """

    supports_gather_distributed = True
    supports_false_negatives = True

    def __init__(self, temperature: float = 0.05, hard_negative_weight: float = 0.0, **options):
        super().__init__(temperature, **options)
        hard_negative_weight = float(hard_negative_weight)
        if not math.isfinite(hard_negative_weight):
            raise ValueError(
                f"hard_negative_weight: expected a finite float (log alpha), got {hard_negative_weight}"
            )
        self.hard_negative_weight = hard_negative_weight

    def forward(self, anchor: Tensor, positive: Tensor, hard_negative: Tensor | None = None) -> Tensor:
        h = self.prepare("anchor", anchor)
        h_pos = self.prepare("positive", positive)
        check_same_shape("anchor", h, "positive", h_pos)
        n = h.shape[0]
        scale = self.temperature.scale()
        h_neg = None
        if hard_negative is not None:
            h_neg = self.prepare("hard_negative", hard_negative)
            check_same_shape("anchor", h, "hard_negative", h_neg)
        (all_pos, all_neg), rows = self.gather(h_pos, h_neg)
        if hard_negative is None:
            check_instances("anchor", rows.total, hint=" and no hard_negative")
        mine = torch.arange(rows.offset, rows.offset + n, device=h.device)  # our rows among the gathered
        if hard_negative is None:
            structure = PairStructure(n, rows.total, pos_index=mine)
            candidates = all_pos
        else:
            # Candidates [h+; h-]: the own hard negative (column total + i) is left out here ...
            structure = PairStructure(n, 2 * rows.total, pos_index=mine, self_index=mine + rows.total)
            candidates = torch.cat([all_pos, all_neg])
        ceiling = ceiling_for(self, h, candidates, structure)
        stats = statistics(self, h, candidates, structure, {"lse_all", "pos_sum"}, ceiling=ceiling,
                           scale=scale, **self.engine_options())
        log_denominator = stats.lse_all
        if hard_negative is not None:
            # ... and added back with its weighted logit s(h_i, h_i^-)/tau + log(alpha).
            own = (h * h_neg).sum(dim=1) * scale + self.hard_negative_weight  # (N,)
            if ceiling is not None:  # the own hard negative obeys the false-negative rule too
                above = (h * h_neg).sum(dim=1).detach() > ceiling
                own = own.masked_fill(above, float("-inf"))
                add_count(self, above)
            log_denominator = torch.logaddexp(log_denominator, own)
        return self.reduce_rows(log_denominator - stats.pos_sum, rows)

    def extra_repr(self) -> str:
        return f"hard_negative_weight={self.hard_negative_weight}"
