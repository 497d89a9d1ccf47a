"""Decoupled contrastive learning (DCL) and its von Mises-Fisher weighted form (DCLW).

Reference points (docs/formulas.md, DCL): no code from the authors exists; lightly's ``DCLLoss`` /
``DCLWLoss`` and raminnakhli/Decoupled-Contrastive-Learning are the public implementations. Both
compute the same per-anchor terms; they differ in the reduction (lightly averages the two directions,
raminnakhli adds them) and in whether the DCLW weight carries gradient (lightly detaches it,
raminnakhli does not). Here the reduction is lightly's and the weight's gradient is an option.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._common import ContrastiveLoss, check_positive_float
from ._false_negatives import statistics
from ._views import prepare_two_views
from .ntxent import two_view_candidates


def von_mises_fisher_weight(loss: ContrastiveLoss, u: Tensor, v: Tensor, sigma: float) -> Tensor:
    r"""DCLW's positive weight :math:`w_i = 2 - N\,\mathrm{softmax}_i(\langle u_i, v_i\rangle/\sigma)`,
    whose batch mean is exactly 1. ``u, v``: ``(N, d)`` (already normalised); returns ``(N,)``.
    With ``loss.gather_distributed`` the softmax runs over the positive similarities of every rank
    (``N`` the global batch), gathered with gradient when ``u, v`` carry one."""
    (similarity,), rows = loss.gather((u * v).sum(dim=-1))
    weight = 2 - rows.total * torch.softmax(similarity / sigma, dim=0)
    return weight[rows.offset : rows.offset + rows.count]


def decoupled_per_anchor(loss: ContrastiveLoss, u: Tensor, v: Tensor,
                         weight: Tensor | None = None) -> Tensor:
    """The ``2N`` DCL terms ``-w s_{a,a+} + log sum_{b not in {a, a+}} exp(s_ab)`` over ``[u; v]``
    (against every rank's rows with ``loss.gather_distributed``), reduced by ``loss``."""
    z, candidates, structure, rows = two_view_candidates(loss, u, v)
    stats = statistics(loss, z, candidates, structure, {"lse_neg", "pos_sum"}, needs_negatives=True,
                       scale=loss.temperature.scale(), **loss.engine_options())
    positive = stats.pos_sum if weight is None else weight.repeat(2) * stats.pos_sum
    return loss.reduce_rows(stats.lse_neg[:, 0] - positive, rows)


class DCL(ContrastiveLoss):
    r"""Decoupled contrastive loss (Yeh, Hong, Hsu, Liu, Chen & LeCun, ECCV 2022, "Decoupled
    Contrastive Learning", arXiv:2110.06848, Eq. 6): NT-Xent with the positive removed from the
    denominator.

    .. math::
        \mathcal{L} = \frac{1}{2N}\sum_{k\in\{1,2\}}\sum_{i=1}^{N}\Big[-s(z_i^{(1)}, z_i^{(2)})
            + \log\sum_{l\in\{1,2\}}\sum_{j\neq i} e^{s(z_i^{(k)}, z_j^{(l)})}\Big],\qquad
        s(a, b) = \langle \hat a, \hat b\rangle/\tau

    Every row of :math:`[z_1; z_2]` is an anchor; its positive (the other view) appears only in the
    numerator, the :math:`2N-2` rows of the other instances form the denominator. The mean over the
    :math:`2N` anchors equals lightly's ``0.5 * (loss0 + loss1)``; the paper sums, and raminnakhli
    adds the two directions (twice this value).

    Args:
        temperature: :math:`\tau > 0` (default 0.1).
        learnable_temperature, normalize, reduction, backend, tile_size: see
            :class:`~contrastkit.losses.InfoNCE`.
        gather_distributed: score the local 2N rows against the 2N rows of every rank, with
            gradient (see :class:`~contrastkit.losses.NTXent`).
    Shapes:
        z1, z2 ``(N, d)``, ``N >= 2``; ``reduction="none"`` returns ``(2N,)`` (rows of ``z1`` first).
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, ``N < 2``, non-finite input or
        ``temperature <= 0``.
    """

    supports_gather_distributed = True
    supports_false_negatives = True

    def __init__(self, temperature: float = 0.1, **options):
        super().__init__(temperature, **options)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        u, v = prepare_two_views(self, z1, z2)
        return decoupled_per_anchor(self, u, v)


class DCLW(ContrastiveLoss):
    r"""Weighted decoupled contrastive loss, DCLW (Yeh et al., ECCV 2022, arXiv:2110.06848, Eq. 6
    with the negative von Mises-Fisher weighting).

    .. math::
        \mathcal{L} = \frac{1}{2N}\sum_{k\in\{1,2\}}\sum_{i=1}^{N}\Big[-w_i\,s(z_i^{(1)}, z_i^{(2)})
            + \log\sum_{l\in\{1,2\}}\sum_{j\neq i} e^{s(z_i^{(k)}, z_j^{(l)})}\Big],\qquad
        w_i = 2 - \frac{e^{\langle \hat z_i^{(1)}, \hat z_i^{(2)}\rangle/\sigma}}
                       {\frac{1}{N}\sum_{j} e^{\langle \hat z_j^{(1)}, \hat z_j^{(2)}\rangle/\sigma}}

    :math:`\sigma` only enters the weight, whose batch mean is 1; the same :math:`w_i` scales the
    positive term of both directions. With ``detach_weight=True`` (default, as lightly) :math:`w` is
    a constant for autograd; ``detach_weight=False`` lets the gradient flow through the softmax, as
    raminnakhli/Decoupled-Contrastive-Learning does. Values are identical; gradients differ.

    Args:
        temperature: :math:`\tau > 0` (default 0.1).
        sigma: :math:`\sigma > 0` of the weight (default 0.5).
        detach_weight: stop the gradient through :math:`w` (default ``True``).
        learnable_temperature, normalize, reduction, backend, tile_size: see
            :class:`~contrastkit.losses.InfoNCE`.
        gather_distributed: score the local 2N rows against the 2N rows of every rank, with
            gradient; :math:`w` is then the softmax over the **global** batch (every rank's positive
            similarities are gathered, with gradient when ``detach_weight=False``), so the loss and
            its gradient equal the single-process loss on the whole batch.
    Shapes:
        z1, z2 ``(N, d)``, ``N >= 2``; ``reduction="none"`` returns ``(2N,)`` (rows of ``z1`` first).
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, ``N < 2``, non-finite input,
        ``temperature <= 0`` or ``sigma <= 0``.
    """

    supports_gather_distributed = True
    supports_false_negatives = True

    def __init__(self, temperature: float = 0.1, sigma: float = 0.5, detach_weight: bool = True,
                 **options):
        super().__init__(temperature, **options)
        self.sigma = check_positive_float("sigma", sigma)
        self.detach_weight = bool(detach_weight)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        u, v = prepare_two_views(self, z1, z2)
        if self.detach_weight:
            weight = von_mises_fisher_weight(self, u.detach(), v.detach(), self.sigma)
        else:
            weight = von_mises_fisher_weight(self, u, v, self.sigma)
        return decoupled_per_anchor(self, u, v, weight)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma:.4g}, detach_weight={self.detach_weight}"
