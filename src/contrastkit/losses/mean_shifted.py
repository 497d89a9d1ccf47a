r"""Mean-shifted contrastive loss for anomaly detection (Reiss & Hoshen, AAAI 2023, arXiv:2106.03844).

Recipe of the official code (talreiss/Mean-Shifted-Anomaly-Detection; docs/formulas.md,
Mean-shifted): the features :math:`\phi(x)` of a pretrained encoder are L2-normalised; the center
:math:`c` is the mean feature of the normal training set, computed once with the initial network
and then held fixed; training minimises :class:`MeanShifted` on two augmentations of normal images.

Anomaly score (evaluation, not part of the loss): kNN on the **un-shifted** normalised features of
the normal training set, ``k = 2``,

.. math::
    \mathrm{score}(x) = \sum_{y\in \mathrm{kNN}_2(\phi(x))} \lVert\phi(x) - \phi(y)\rVert^2
                     = 2k - 2\sum_{y} \cos(\phi(x), \phi(y)),

higher = more anomalous, reported as AUROC.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._common import ContrastiveLoss, check_embeddings, check_feature_dim, normalize
from ._false_negatives import statistics
from ._views import prepare_two_views
from .ntxent import two_view_candidates


def mean_shifted_center(features: Tensor, normalize_center: bool = True) -> Tensor:
    r"""The center :math:`c = \mathrm{norm}(\frac{1}{M}\sum_m \mathrm{norm}(f_m))` of the normal
    training features, with no gradient.

    The official code normalises the mean only when training with the angular center loss and uses
    the raw mean otherwise; ``normalize_center=False`` reproduces that raw mean.

    Shapes:
        features ``(M, d)``; returns ``(d,)`` float32 (float64 for float64 input).
    Raises:
        ValueError: naming ``features`` for a bad shape or non-finite values.
    """
    phi = normalize(check_embeddings("features", features).detach())
    return normalize(phi.mean(dim=0), normalize_center)


class MeanShifted(ContrastiveLoss):
    r"""Mean-shifted contrastive loss (Reiss & Hoshen, AAAI 2023, "Mean-Shifted Contrastive Loss
    for Anomaly Detection", arXiv:2106.03844), as in the official code.

    .. math::
        \theta(x) = \frac{\phi(x) - c}{\lVert\phi(x) - c\rVert},\qquad
        \mathcal{L}_{msc} = \frac{1}{2N}\sum_{a=1}^{2N}\Big[-\frac{\langle\theta_a,\theta_{a^+}\rangle}{\tau}
            + \log\sum_{b\neq a} e^{\langle\theta_a,\theta_b\rangle/\tau}\Big]

    NT-Xent (positive in the denominator) over the mean-shifted rows
    :math:`\theta = [\theta(z_1); \theta(z_2)]`, :math:`\phi` the normalised inputs. With
    ``angular=True`` the angular center term of the official code is added with weight 1:

    .. math::
        \mathcal{L} = \mathcal{L}_{msc} + \frac{1}{N}\sum_i \lVert\phi(x_i^{(1)}) - c\rVert^2
                      + \frac{1}{N}\sum_i \lVert\phi(x_i^{(2)}) - c\rVert^2

    (for unit :math:`\phi` and :math:`c` this is :math:`4 - 2\cos(\phi^{(1)}, c) - 2\cos(\phi^{(2)}, c)`
    on average; the official code normalises :math:`c` in that mode, as :func:`mean_shifted_center`
    does by default). :math:`c` is a constant: it is detached and receives no gradient. A row with
    :math:`\phi = c` maps to the zero vector instead of NaN.

    Args:
        temperature: :math:`\tau > 0` (default 0.25, hard-coded in the official code).
        angular: add the angular center term.
        learnable_temperature, normalize, reduction, backend, tile_size: see
            :class:`~contrastkit.losses.InfoNCE`.
        gather_distributed: score the local 2N shifted rows against those of every rank, with
            gradient (see :class:`~contrastkit.losses.NTXent`); ``center`` must be the same on
            every rank (it is not gathered).
    Shapes:
        z1, z2 ``(N, d)``, ``N >= 2``; center ``(d,)``; ``reduction="none"`` returns ``(2N,)``
        (rows of ``z1`` first; with ``angular`` each row carries ``2 ||phi_a - c||^2``).
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, ``N < 2``, non-finite input or
        ``temperature <= 0``.
    """

    supports_gather_distributed = True
    supports_false_negatives = True

    def __init__(self, temperature: float = 0.25, angular: bool = False, **options):
        super().__init__(temperature, **options)
        self.angular = bool(angular)

    def forward(self, z1: Tensor, z2: Tensor, center: Tensor) -> Tensor:
        phi1, phi2 = prepare_two_views(self, z1, z2)
        check_embeddings("center", center, ndim=1)
        check_feature_dim("center", center, phi1.shape[1])
        phi = torch.cat([phi1, phi2])  # (2N, d)
        shifted = phi - center.detach().to(dtype=phi.dtype, device=phi.device)
        theta = normalize(shifted)
        n = phi1.shape[0]
        theta, candidates, structure, rows = two_view_candidates(self, theta[:n], theta[n:])
        stats = statistics(self, theta, candidates, structure, {"lse_all", "pos_sum"},
                                scale=self.temperature.scale(), **self.engine_options())
        per_anchor = stats.lse_all - stats.pos_sum
        if self.angular:
            per_anchor = per_anchor + 2 * shifted.pow(2).sum(dim=-1)
        return self.reduce_rows(per_anchor, rows)

    def extra_repr(self) -> str:
        return f"angular={self.angular}"
