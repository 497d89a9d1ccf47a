"""MACL: model-aware contrastive learning with an alignment-adaptive temperature."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import ContrastiveLoss
from ._false_negatives import statistics
from ._views import prepare_two_views
from .ntxent import two_view_candidates


def check_unit_interval(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: expected a value in [0, 1], got {value}")
    return value


class MACL(ContrastiveLoss):
    r"""Model-Aware Contrastive Loss (Huang, Chen, Wen, Zhang, Li, Wang & Chen, 2023, "Model-Aware
    Contrastive Learning: Towards Escaping the Dilemmas", ICML 2023, arXiv:2207.07874).

    .. math::
        A = \mathrm{sg}\Big(\frac{1}{2N}\sum_{a=1}^{2N} \langle z_a, z_{a^+}\rangle\Big),\qquad
        \tau_A = \tau_0\,\big(1 + \alpha (A - A_0)\big),

        \log P_a = \frac{\langle z_a, z_{a^+}\rangle}{\tau_A}
            - \log\sum_{b\neq a} e^{\langle z_a, z_b\rangle/\tau_A},\qquad
        V_a = \mathrm{sg}\Big(\frac{1}{1 - P_a + \epsilon}\Big),

        \mathcal{L} = -\frac{1}{2N}\sum_{a=1}^{2N} V_a \log P_a

    over the SimCLR layout :math:`z = [\hat z_1; \hat z_2]` (2N anchors, the other view positive and
    in the denominator, the anchor itself excluded). :math:`A`, hence :math:`\tau_A`, and the
    reweighting :math:`V_a` carry no gradient, as in the official code (chenhaoxing/MACL) and
    lightly's ``MACLLoss``. With :math:`g_a = \log\sum_{neg} - \langle z_a, z_{a^+}\rangle/\tau_A`,
    :math:`\log P_a = -\operatorname{softplus}(g_a)` and :math:`1 - P_a = \sigma(g_a)`: neither
    cancels two large logits when :math:`P_a \to 1` (small :math:`\tau`). :math:`\epsilon = 10^{-8}`
    is lightly's guard; ``eps=0`` gives the official code's unguarded :math:`1/(1 - P_a)`. Defaults
    and the ranges of :math:`\alpha` and :math:`A_0` are lightly's (the paper's recommended values
    were not re-read).

    :math:`\tau_A` depends on the batch: it is :math:`\le 0` when :math:`\alpha (A_0 - A) \ge 1`
    (for instance :math:`\alpha = 1`, :math:`A_0 = 1` and a batch with :math:`A \le 0`). Neither
    reference guards this case; here it raises ``ValueError`` naming ``alpha`` and ``a0``.

    Args:
        temperature: base temperature :math:`\tau_0 > 0` (default 0.1).
        alpha: temperature sensitivity :math:`\alpha \in [0, 1]` (default 0.5).
        a0: alignment threshold :math:`A_0 \in [0, 1]` (default 0.0).
        eps: :math:`\epsilon \ge 0` in :math:`V_a` (default 1e-8).
        learnable_temperature, normalize, reduction, backend, tile_size: see :class:`InfoNCE`
            (a learnable :math:`\tau_0` receives gradient through :math:`\tau_A`).
        gather_distributed: score the local 2N rows against the 2N rows of every rank, with
            gradient; :math:`A` is then the mean over the global batch (gathered without
            gradient), so every rank uses the same :math:`\tau_A` and a non-positive one raises on
            every rank.
    Shapes:
        z1, z2 ``(N, d)`` with ``N >= 2``; ``reduction="none"`` returns ``(2N,)`` (rows of ``z1`` first).
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, fewer than 2 rows, non-finite input,
        ``temperature <= 0``, ``alpha`` or ``a0`` outside [0, 1], ``eps < 0``, or a batch whose
        :math:`\tau_A \le 0`.
    """

    supports_gather_distributed = True
    supports_false_negatives = True

    def __init__(self, temperature: float = 0.1, alpha: float = 0.5, a0: float = 0.0,
                 eps: float = 1e-8, **options):
        super().__init__(temperature, **options)
        self.alpha = check_unit_interval("alpha", alpha)
        self.a0 = check_unit_interval("a0", a0)
        eps = float(eps)
        if not math.isfinite(eps) or eps < 0:
            raise ValueError(f"eps: expected a finite value >= 0, got {eps}")
        self.eps = eps

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        u, v = prepare_two_views(self, z1, z2)
        with torch.no_grad():  # A over the global batch when gathering: every rank's tau_A agrees
            (similarity,), _ = self.gather((u * v).sum(dim=1))
            alignment = similarity.mean()  # A: each positive pair appears twice in 2N
            factor = 1 + self.alpha * (alignment - self.a0)
        if float(factor) <= 0:
            raise ValueError(
                f"alpha, a0: the adaptive temperature tau_0 * (1 + alpha * (A - a0)) is <= 0 for this "
                f"batch (alpha={self.alpha}, a0={self.a0}, A={float(alignment):.4g})"
            )
        scale = self.temperature.scale() / factor  # 1 / tau_A
        z, candidates, structure, rows = two_view_candidates(self, u, v)
        stats = statistics(self, z, candidates, structure, {"lse_neg", "pos_sum"},
                                scale=scale, **self.engine_options())
        # lse_all = logaddexp(pos, lse_neg): log P = -softplus(lse_neg - pos), 1 - P = sigmoid(...).
        # Subtracting lse_all from pos instead cancels two logits of size 1/tau_A and leaves
        # rounding noise that V_a (up to 1/eps) then multiplies (issue 14 property tests).
        gap = stats.lse_neg[:, 0] - stats.pos_sum
        log_p = -F.softplus(gap)
        with torch.no_grad():
            weight = 1.0 / (torch.sigmoid(gap) + self.eps)
        return self.reduce_rows(-weight * log_p, rows)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, a0={self.a0}, eps={self.eps}"
