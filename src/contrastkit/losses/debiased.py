"""Debiased contrastive loss (Chuang et al., 2020) and hard-negative HCL (Robinson et al., 2021).

Both are the official SimCLR estimators (docs/formulas.md, Debiased and hard-negative) over the
2N-anchor layout, with the ``Nn * e^{-1/t}`` floor, computed in log space from the engine's tilted
negative log-sum-exps, so no ``exp`` of a logit is ever formed and large ``beta / t`` cannot
overflow. No stop-gradient: the importance weights carry gradient, as in the official code.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._common import ContrastiveLoss
from ._false_negatives import statistics
from ._views import prepare_two_views
from .ntxent import two_view_candidates


def check_tau_plus(tau_plus: float) -> float:
    tau_plus = float(tau_plus)
    if not 0.0 <= tau_plus < 1.0:
        raise ValueError(f"tau_plus: expected a class prior in [0, 1), got {tau_plus}")
    return tau_plus


def log_count(count: Tensor | int, like: Tensor) -> Tensor:
    """``log(count)`` as a tensor like ``like`` (a count per anchor once false negatives are excluded)."""
    return torch.log(torch.as_tensor(count, dtype=like.dtype, device=like.device))


def debiased_per_anchor(log_negative_sum: Tensor, positive: Tensor, num_negatives: Tensor | int,
                        tau_plus: float, scale: Tensor | float) -> Tensor:
    r"""``-s+ + log(e^{s+} + max(Ng, Nn e^{-1/t}))`` with
    ``Ng = (e^{log_negative_sum} - tau_plus Nn e^{s+}) / (1 - tau_plus)``, all in log space.

    Args:
        log_negative_sum: ``(A,)`` log of the (possibly importance-weighted) negative sum.
        positive: ``(A,)`` positive logits ``s+ = <a, a+>/t``.
        num_negatives: ``Nn`` (an int, or ``(A,)`` per anchor).
        tau_plus: class prior in ``[0, 1)``.
        scale: ``1/t`` (a float, or a 0-d tensor for a learnable temperature).
    """
    if tau_plus > 0:
        log_correction = math.log(tau_plus) + log_count(num_negatives, positive) + positive
        gap = log_correction - log_negative_sum  # < 0 exactly where the corrected sum is positive
        kept = gap < 0
        safe_gap = torch.where(kept, gap, torch.full_like(gap, -1.0))
        log_difference = torch.where(kept, log_negative_sum + torch.log(-torch.expm1(safe_gap)),
                                     torch.full_like(gap, float("-inf")))
    else:
        log_difference = log_negative_sum
    log_floor = log_count(num_negatives, positive) - scale
    log_g = torch.maximum(log_difference - math.log1p(-tau_plus), log_floor.expand_as(positive))
    return torch.logaddexp(positive, log_g) - positive


class DebiasedContrastive(ContrastiveLoss):
    r"""Debiased contrastive loss (Chuang, Robinson, Lin, Torralba & Jegelka, NeurIPS 2020,
    "Debiased Contrastive Learning", arXiv:2007.00224), in the SimCLR form of the official code.

    .. math::
        \ell_a = -\log\frac{e^{s_{a,a^+}}}{e^{s_{a,a^+}} + N_n g_a},\qquad
        N_n g_a = \max\Big\{\frac{\sum_{k\in\mathrm{neg}(a)} e^{s_{ak}} - \tau^+ N_n e^{s_{a,a^+}}}
                                 {1-\tau^+},\; N_n e^{-1/\tau}\Big\}

    over the :math:`2N` rows of :math:`[z_1; z_2]`, :math:`s_{ab} = \langle\hat z_a,\hat z_b\rangle/\tau`,
    :math:`N_n = 2N-2` negatives (every other row except the positive); the loss is the mean over
    the :math:`2N` anchors. :math:`\tau^+ = 0` gives NT-Xent. With ``gather_distributed`` the
    candidates are the :math:`2N` rows of every rank and :math:`N` is the global batch.

    Args:
        temperature: :math:`\tau > 0` (default 0.5); it also sets the floor :math:`N_n e^{-1/\tau}`.
        tau_plus: class prior :math:`\tau^+ \in [0, 1)` (default 0.1).
        learnable_temperature, normalize, reduction, backend, tile_size, gather_distributed:
            see :class:`~contrastkit.losses.NTXent`.
    Shapes:
        z1, z2 ``(N, d)``, ``N >= 2``; ``reduction="none"`` returns ``(2N,)`` (rows of ``z1`` first).
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, ``N < 2``, non-finite input,
        ``temperature <= 0`` or ``tau_plus`` outside ``[0, 1)``.
    """

    supports_gather_distributed = True
    supports_false_negatives = True

    def __init__(self, temperature: float = 0.5, tau_plus: float = 0.1, **options):
        super().__init__(temperature, **options)
        self.tau_plus = check_tau_plus(tau_plus)

    def tilts(self) -> tuple[float, ...]:
        return (1.0,)

    def log_negative_sum(self, lse_neg: Tensor, num_negatives: int) -> Tensor:
        """``log sum_k e^{s_ak}`` from the engine's ``lse_neg`` (one column per tilt)."""
        return lse_neg[:, 0]

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        u, v = prepare_two_views(self, z1, z2)
        z, candidates, structure, rows = two_view_candidates(self, u, v)  # (2N, d) anchors
        scale = self.temperature.scale()
        stats = statistics(self, z, candidates, structure, {"lse_neg", "pos_sum"}, needs_negatives=True,
                           scale=scale, tilts=self.tilts(), **self.engine_options())
        num_negatives = rows.total - 2 if stats.fn_count is None else rows.total - 2 - stats.fn_count
        per_anchor = debiased_per_anchor(self.log_negative_sum(stats.lse_neg, num_negatives),
                                         stats.pos_sum, num_negatives, self.tau_plus, scale)
        return self.reduce_rows(per_anchor, rows)

    def extra_repr(self) -> str:
        return f"tau_plus={self.tau_plus:.4g}"


class HardNegativeContrastive(DebiasedContrastive):
    r"""Hard-negative contrastive loss, HCL (Robinson, Chuang, Sra & Jegelka, ICLR 2021,
    "Contrastive Learning with Hard Negative Samples", arXiv:2010.04592), in the SimCLR form of
    the official code: the debiased loss with importance-weighted negatives.

    .. math::
        N_n g_a = \max\Big\{\frac{N_n \frac{\sum_k w_{ak} e^{s_{ak}}}{\sum_k w_{ak}}
                                  - \tau^+ N_n e^{s_{a,a^+}}}{1-\tau^+},\; N_n e^{-1/\tau}\Big\},
        \qquad w_{ak} = e^{\beta s_{ak}}

    and :math:`\ell_a` as in :class:`DebiasedContrastive`. The weighted sum is evaluated as
    :math:`N_n \exp(\mathrm{lse}_{neg}(1+\beta) - \mathrm{lse}_{neg}(\beta))` from the engine's
    tilted log-sum-exps. The weights are not detached (as in the official code). :math:`\beta = 0`
    gives :class:`DebiasedContrastive`; :math:`\beta = \tau^+ = 0` gives NT-Xent.

    Args:
        temperature: :math:`\tau > 0` (default 0.5).
        tau_plus: class prior :math:`\tau^+ \in [0, 1)` (default 0.1).
        beta: concentration :math:`\beta \ge 0` of the hard-negative weights (default 1.0).
        learnable_temperature, normalize, reduction, backend, tile_size, gather_distributed:
            see :class:`~contrastkit.losses.NTXent`.
    Shapes:
        z1, z2 ``(N, d)``, ``N >= 2``; ``reduction="none"`` returns ``(2N,)`` (rows of ``z1`` first).
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, ``N < 2``, non-finite input,
        ``temperature <= 0``, ``tau_plus`` outside ``[0, 1)`` or ``beta < 0``.
    """

    def __init__(self, temperature: float = 0.5, tau_plus: float = 0.1, beta: float = 1.0,
                 **options):
        super().__init__(temperature, tau_plus, **options)
        beta = float(beta)
        if not math.isfinite(beta) or beta < 0:
            raise ValueError(f"beta: expected a finite value >= 0, got {beta}")
        self.beta = beta

    def tilts(self) -> tuple[float, ...]:
        return (self.beta, 1.0 + self.beta)

    def log_negative_sum(self, lse_neg: Tensor, num_negatives: Tensor | int) -> Tensor:
        return log_count(num_negatives, lse_neg) + lse_neg[:, 1] - lse_neg[:, 0]

    def extra_repr(self) -> str:
        return f"tau_plus={self.tau_plus:.4g}, beta={self.beta:.4g}"
