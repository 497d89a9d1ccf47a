"""Objectives for V >= 2 views of each instance: MV-InfoNCE, MV-DHEL and Poly-View (PVC).

Every loss takes ``views`` of shape ``(N, V, d)``: instance ``i`` in view ``l`` is ``views[i, l]``.
The positives of an instance are its other views, so their logits come from the ``(N, V, V)``
within-instance Gram matrix; the negatives' log-sum-exps come from the engine.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor

from ..engine import PairStructure
from ._common import ContrastiveLoss
from ._false_negatives import filtering, statistics
from ._views import other_view_scores, prepare_multi_views, same_view_energy, within_instance_logits

AGGREGATIONS = ("geometric", "arithmetic")


class MultiViewInfoNCE(ContrastiveLoss):
    r"""MV-InfoNCE (Koromilas, Georgiou, Bouritsas, Giannakopoulos, Nicolaou & Panagakis, 2025,
    "A Principled Framework for Multi-View Contrastive Learning", arXiv:2507.06979), as in the
    official code (pakoromilas/Multi-View-CL, ``MVINFONCE``).

    .. math::
        \ell_i = -\log\frac{\sum_{l\neq l'} e^{s(U_{il}, U_{il'})}}
                          {\sum_{l}\sum_{(j,m)\neq(i,l)} e^{s(U_{il}, U_{jm})}},\qquad
        s(a, b) = \langle\hat a,\hat b\rangle/\tau

    The numerator counts ordered view pairs; the denominator holds, for each view of instance
    ``i``, every other embedding of the batch (other instances in all views, and the instance's own
    other views). The README writes the denominator without same-view terms and drops the minus
    sign; the code, followed here, is what produced the paper's numbers. One term per instance.

    Args:
        temperature: :math:`\tau > 0` (default 1.0, the official class default).
        learnable_temperature, normalize, reduction, backend, tile_size: see
            :class:`~contrastkit.losses.InfoNCE`.
        gather_distributed: the other instances (every view) come from every rank, gathered with
            gradient; ``mean`` is this rank's share of the mean over all instances.
    Shapes:
        views ``(N, V, d)``, ``N >= 2``, ``V >= 2``; ``reduction="none"`` returns ``(N,)``.
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, ``N < 2``, ``V < 2``, non-finite input or
        ``temperature <= 0``.
    """

    supports_gather_distributed = True
    supports_false_negatives = True

    field_inputs: ClassVar[dict] = {"views": "*"}  # all views of the input, stacked (N, V, d)

    def __init__(self, temperature: float = 1.0, **options):
        super().__init__(temperature, **options)

    def forward(self, views: Tensor) -> Tensor:
        x = prepare_multi_views(self, views)
        n, num_views, d = x.shape
        scale = self.temperature.scale()
        (candidates,), rows = self.gather(x)
        flat = x.reshape(n * num_views, d)  # row i * V + l
        local = torch.arange(rows.offset * num_views, (rows.offset + n) * num_views, device=x.device)
        instance = {}
        if filtering(self):  # the instance's own views are its positives: never false negatives
            every = torch.arange(rows.total, device=x.device).repeat_interleave(num_views)
            instance = dict(anchor_labels=every[local], candidate_labels=every)
        structure = PairStructure(n * num_views, rows.total * num_views, self_index=local, **instance)
        stats = statistics(self, flat, candidates.reshape(-1, d), structure, {"lse_all"}, scale=scale,
                           **self.engine_options())
        log_denominator = torch.logsumexp(stats.lse_all.view(n, num_views), dim=1)
        other = ~torch.eye(num_views, dtype=torch.bool, device=x.device)
        log_numerator = torch.logsumexp(within_instance_logits(x, scale)[:, other], dim=1)
        return self.reduce_rows(log_denominator - log_numerator, rows)


class MVDHEL(ContrastiveLoss):
    r"""MV-DHEL, multi-view decoupled hyperspherical energy loss (Koromilas et al., 2025,
    arXiv:2507.06979), as in the official code (pakoromilas/Multi-View-CL, ``MVDHEL``).

    .. math::
        \ell_i = -\log\frac{\sum_{l<l'} e^{s(U_{il}, U_{il'})}}
                          {\prod_{l}\sum_{j\neq i} e^{s(U_{il}, U_{jl})}}

    Alignment over the unordered view pairs of instance ``i``; uniformity as a product over views
    of **same-view** energies, the instance itself excluded (the README's product includes
    ``j = i``; the code, followed here, excludes it). With ``V = 2`` this is DHEL
    (Koromilas et al., ICML 2024, arXiv:2405.18045) with ``include_augs=True``.

    Args:
        temperature: :math:`\tau > 0` (default 0.2, the official class default).
        learnable_temperature, normalize, reduction, backend, tile_size: see
            :class:`~contrastkit.losses.InfoNCE`.
        gather_distributed: the other instances (every view) come from every rank, gathered with
            gradient; ``mean`` is this rank's share of the mean over all instances.
    Shapes:
        views ``(N, V, d)``, ``N >= 2``, ``V >= 2``; ``reduction="none"`` returns ``(N,)``.
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, ``N < 2``, ``V < 2``, non-finite input or
        ``temperature <= 0``.
    """

    supports_gather_distributed = True
    supports_false_negatives = True

    field_inputs: ClassVar[dict] = {"views": "*"}  # all views of the input, stacked (N, V, d)

    def __init__(self, temperature: float = 0.2, **options):
        super().__init__(temperature, **options)

    def forward(self, views: Tensor) -> Tensor:
        x = prepare_multi_views(self, views)
        num_views = x.shape[1]
        scale = self.temperature.scale()
        (candidates,), rows = self.gather(x)
        positives = other_view_scores(x) if filtering(self) else None
        energy = sum(same_view_energy(self, x[:, l], candidates[:, l], rows,
                                      None if positives is None else positives[:, l])
                     for l in range(num_views))
        upper = torch.ones(num_views, num_views, dtype=torch.bool, device=x.device).triu(1)
        log_alignment = torch.logsumexp(within_instance_logits(x, scale)[:, upper], dim=1)
        return self.reduce_rows(energy - log_alignment, rows)


class PolyView(ContrastiveLoss):
    r"""Poly-view contrastive loss, PVC (Shidani, Hjelm, Ramapuram, Webb, Dhekane & Busbridge,
    ICLR 2024, "Poly-View Contrastive Learning", arXiv:2403.05490), from the appendix pseudo-code.

    For anchor view ``a`` and target view ``b != a`` of instance ``i`` (one softmax per pair):

    .. math::
        \ell_{i,ab} = -s(z_{ia}, z_{ib}) + \log\Big[e^{s(z_{ia}, z_{ib})}
            + \sum_{j\neq i}\sum_{g=1}^{V} e^{s(z_{ia}, z_{jg})}\Big]

    (the instance's other views are masked, every view of every other instance is a negative), then

    .. math::
        \text{geometric: }\ \ell_i = \frac{1}{V}\sum_a \frac{1}{V-1}\sum_{b\neq a}\ell_{i,ab},\qquad
        \text{arithmetic: }\ \ell_i = \frac{1}{V}\sum_a \log\frac{1}{V-1}\sum_{b\neq a} e^{\ell_{i,ab}}

    The arithmetic form is the log of the arithmetic mean of :math:`e^{\ell}`. The pseudo-code as
    transcribed subtracts :math:`\log K` (the batch size) instead of :math:`\log(V-1)`: a constant
    that changes the value by :math:`\log K - \log(V-1)` and no gradient. With this choice both
    aggregations equal NT-Xent at ``V = 2``. Each pair's cross-entropy is per instance, as in the
    pseudo-code (Multi-View-CL's ``PVCLoss`` batch-averages first, which differs for arithmetic).

    Args:
        temperature: :math:`\tau > 0` (default 0.2, as ``PVCLoss``).
        aggregation: ``"geometric"`` (default) or ``"arithmetic"``.
        learnable_temperature, normalize, reduction, backend, tile_size: see
            :class:`~contrastkit.losses.InfoNCE`.
        gather_distributed: the other instances (every view) come from every rank, gathered with
            gradient; ``mean`` is this rank's share of the mean over all instances.
    Shapes:
        views ``(N, V, d)``, ``N >= 2``, ``V >= 2``; ``reduction="none"`` returns ``(N,)``.
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, ``N < 2``, ``V < 2``, non-finite input,
        ``temperature <= 0`` or an unknown ``aggregation``.
    """

    supports_gather_distributed = True
    supports_false_negatives = True

    field_inputs: ClassVar[dict] = {"views": "*"}  # all views of the input, stacked (N, V, d)

    def __init__(self, temperature: float = 0.2, aggregation: str = "geometric", **options):
        super().__init__(temperature, **options)
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation: expected one of {AGGREGATIONS}, got {aggregation!r}")
        self.aggregation = aggregation

    def forward(self, views: Tensor) -> Tensor:
        x = prepare_multi_views(self, views)
        n, num_views, d = x.shape
        scale = self.temperature.scale()
        (candidates,), rows = self.gather(x)
        flat = x.reshape(n * num_views, d)  # row i * V + l
        instance = torch.arange(rows.total, device=x.device).repeat_interleave(num_views)
        local = slice(rows.offset * num_views, (rows.offset + n) * num_views)
        other_instances = PairStructure(n * num_views, rows.total * num_views,
                                        anchor_ids=instance[local], candidate_ids=instance)
        positives = other_view_scores(x).reshape(-1) if filtering(self) else None
        stats = statistics(self, flat, candidates.reshape(-1, d), other_instances, {"lse_neg"},
                           positives=positives, scale=scale, **self.engine_options())
        log_negatives = stats.lse_neg[:, 0].view(n, num_views, 1)  # per anchor (i, a)
        logits = within_instance_logits(x, scale)  # (N, V, V): s(z_ia, z_ib)
        per_pair = torch.logaddexp(logits, log_negatives) - logits
        other = ~torch.eye(num_views, dtype=torch.bool, device=x.device)
        per_pair = per_pair[:, other].view(n, num_views, num_views - 1)
        if self.aggregation == "geometric":
            per_anchor = per_pair.mean(dim=-1)
        else:
            per_anchor = torch.logsumexp(per_pair, dim=-1) - math.log(num_views - 1)
        return self.reduce_rows(per_anchor.mean(dim=-1), rows)

    def extra_repr(self) -> str:
        return f"aggregation={self.aggregation!r}"
