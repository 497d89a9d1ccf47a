"""Supervised contrastive loss (SupCon, L_out) over every view of every sample."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from ..engine import PairStructure
from ..scale.distributed import rank, world_size
from ._common import ContrastiveLoss, check_index_vector, check_positive_float, dense_codes
from ._false_negatives import statistics
from ._views import check_instances

NO_POSITIVE = ("error", "ignore", "zero")


class SupCon(ContrastiveLoss):
    r"""Supervised contrastive loss :math:`\mathcal{L}^{sup}_{out}` (Khosla et al., 2020,
    "Supervised Contrastive Learning", arXiv:2004.11362, Eq. 2).

    .. math::
        \mathcal{L} = \frac{1}{|I|}\sum_{i\in I}\frac{-1}{|P(i)|}\sum_{p\in P(i)}
            \log\frac{e^{s_{ip}}}{\sum_{a\in A(i)} e^{s_{ia}}},\qquad
        s_{ij} = \langle \hat z_i, \hat z_j\rangle/\tau

    :math:`I` holds every view of every sample, :math:`A(i) = I\setminus\{i\}` and
    :math:`P(i) = \{p \in A(i): y_p = y_i\}`. The paper sums over :math:`I`; like the official code
    and pytorch-metric-learning this takes the mean. Without ``labels`` each sample is its own
    class, which is SimCLR's NT-Xent over the views. No :math:`\tau/0.07` factor is applied unless
    ``base_temperature`` is set (the official code multiplies by :math:`\tau/\tau_{base}`).

    An anchor without a positive (possible with one view per sample) has no defined term;
    ``no_positive`` chooses: ``"error"`` raises, ``"ignore"`` leaves it out of the mean (as
    pytorch-metric-learning), ``"zero"`` counts it as 0 in the mean (as the official code since its
    2023-12 fix). With ``reduction="none"`` such anchors read 0 under ``"ignore"`` and ``"zero"``.

    Args:
        temperature: :math:`\tau > 0` (default 0.1).
        base_temperature: if set, multiply the loss by ``temperature / base_temperature``.
        no_positive: ``"error"`` (default) | ``"ignore"`` | ``"zero"``.
        learnable_temperature, normalize, reduction, backend, tile_size: see :class:`InfoNCE`.
        gather_distributed: score the local rows (every view) against the rows and labels of every
            rank, with gradient; ``mean`` is this rank's share of the global mean (under
            ``"ignore"``, of the mean over the anchors of every rank that have a positive).
    Shapes:
        features ``(N, d)`` or ``(N, V, d)`` (V views); labels ``(N,)`` integers, repeated for every
        view. ``reduction="none"`` returns ``(N*V,)``, view-major (every sample's view 0 first).
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, ``temperature <= 0``,
        labels of the wrong length, missing ``labels`` with one view, or (with
        ``no_positive="error"``) an anchor with no positive.
    """

    supports_gather_distributed = True
    supports_false_negatives = True

    field_inputs: ClassVar[dict] = {"features": "*", "labels": "label"}  # (N, V, d) views, labels

    def __init__(self, temperature: float = 0.1, base_temperature: float | None = None,
                 no_positive: str = "error", **options):
        super().__init__(temperature, **options)
        self.base_temperature = (None if base_temperature is None
                                 else check_positive_float("base_temperature", base_temperature))
        if no_positive not in NO_POSITIVE:
            raise ValueError(f"no_positive: expected one of {NO_POSITIVE}, got {no_positive!r}")
        self.no_positive = no_positive

    def forward(self, features: Tensor, labels: Tensor | None = None) -> Tensor:
        if isinstance(features, Tensor) and features.dim() not in (2, 3):
            raise ValueError(
                f"features: expected shape (N, d) or (N, V, d), got {tuple(features.shape)}"
            )
        ndim = features.dim() if isinstance(features, Tensor) else 2
        x = self.prepare("features", features, ndim)
        if x.dim() == 2:
            x = x.unsqueeze(1)
        n, views, _ = x.shape
        z = x.transpose(0, 1).reshape(n * views, -1)  # (V*N, d), view-major
        device = z.device
        labels = check_index_vector("labels", labels, n, device)
        if labels is None:
            if views < 2:
                raise ValueError("labels: required when features holds one view per sample")
            # each sample its own class, unique over ranks when gathered (dense-coded below)
            instance = torch.arange(n, device=device)
            labels = instance * world_size() + rank() if self.gather_distributed else instance
        (candidates, all_labels), rows = self.gather(z, labels.repeat(views))
        check_instances("features", rows.total // views)
        (codes,) = dense_codes(all_labels)
        local = torch.arange(rows.offset, rows.offset + n * views, device=device)
        # a row has a positive iff its label occurs twice: known for every rank's rows alike, so
        # all ranks raise together and agree on the number of anchors with a positive
        repeated = torch.bincount(codes)[codes] > 1
        if self.no_positive == "error" and not bool(repeated.all()):
            lonely = (~repeated[local]).nonzero()
            first = int(lonely[0]) if len(lonely) else None
            where = ("an anchor on another rank" if first is None
                     else f"anchor {first} (sample {first % n}, view {first // n})")
            raise ValueError(
                f"labels: {where} has no positive; "
                "give every label at least two rows or set no_positive='ignore' or 'zero'"
            )
        structure = PairStructure(n * views, rows.total, self_index=local,
                                  anchor_labels=codes[local], candidate_labels=codes)
        stats = statistics(self, z, candidates, structure, {"lse_all", "pos_sum", "pos_count"},
                                scale=self.temperature.scale(), **self.engine_options())
        has_positive = stats.pos_count > 0
        per_anchor = stats.lse_all - stats.pos_sum / stats.pos_count.clamp(min=1)
        per_anchor = torch.where(has_positive, per_anchor, torch.zeros_like(per_anchor))
        if self.base_temperature is not None:
            per_anchor = per_anchor / (self.temperature.scale() * self.base_temperature)
        if self.reduction == "mean" and self.no_positive == "ignore":
            # PML's convention: an empty set of anchors gives 0 (kept in the graph).
            return per_anchor.sum() * rows.world_size / repeated.sum().clamp(min=1)
        return self.reduce_rows(per_anchor, rows)
