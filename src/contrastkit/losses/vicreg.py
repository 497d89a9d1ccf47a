"""VICReg: variance, invariance and covariance regularisation of two views' embeddings."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._baselines import check_coefficient, two_batches


def variance_term(z: Tensor, eps: float) -> Tensor:
    """``mean_j relu(1 - sqrt(Var(z_j) + eps))`` with the unbiased variance over the batch."""
    return F.relu(1 - (z.var(dim=0) + eps).sqrt()).mean()


def covariance_term(z: Tensor) -> Tensor:
    """``(1/D) sum_{i != j} Cov(z)_ij^2``, ``Cov`` with the ``N - 1`` denominator."""
    centred = z - z.mean(dim=0)
    cov = centred.T @ centred / (z.shape[0] - 1)
    return (cov.pow(2).sum() - cov.diagonal().pow(2).sum()) / z.shape[1]


class VICReg(nn.Module):
    r"""VICReg (Bardes, Ponce & LeCun, ICLR 2022, arXiv:2105.04906, Eqs. 1-6).

    .. math::
        \mathcal{L} = \lambda\,\frac{1}{ND}\lVert z_1 - z_2\rVert_F^2
          + \frac{\mu}{2}\big[v(z_1) + v(z_2)\big] + \nu\big[c(z_1) + c(z_2)\big],

    .. math::
        v(z) = \frac{1}{D}\sum_j \max\big(0, 1 - \sqrt{\mathrm{Var}(z_{\cdot j}) + \epsilon}\big),\qquad
        c(z) = \frac{1}{D}\sum_{i\neq j} \mathrm{Cov}(z)_{ij}^2

    (unbiased variance and covariance over the batch). The paper's ``mu`` multiplies
    :math:`v(z_1) + v(z_2)`; its official code, and lightly, average the two variance terms, which
    is followed here. Equal to lightly's ``VICRegLoss``.

    Args:
        lambda_param, mu_param, nu_param: weights :math:`\lambda, \mu, \nu \ge 0` (default 25, 25, 1).
        eps: :math:`\epsilon > 0` inside the square root (default ``1e-4``).
        gather_distributed: every term over the global batch (every rank's rows, gathered with
            gradient); every rank returns the global loss. (lightly takes the invariance term over
            the local rows, which equals the global one only for equal per-rank batches.)
    Shapes:
        z1, z2 ``(N, D)``, ``N >= 2``; returns a scalar.
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, ``N < 2``, a negative
        or non-finite weight, or ``eps <= 0``.
    """

    supports_gather_distributed = True

    def __init__(self, lambda_param: float = 25.0, mu_param: float = 25.0, nu_param: float = 1.0,
                 eps: float = 1e-4, gather_distributed: bool = False):
        super().__init__()
        self.lambda_param = check_coefficient("lambda_param", lambda_param)
        self.mu_param = check_coefficient("mu_param", mu_param)
        self.nu_param = check_coefficient("nu_param", nu_param)
        self.eps = check_coefficient("eps", eps)
        if self.eps == 0:
            raise ValueError("eps: expected a finite value > 0, got 0.0")
        self.gather_distributed = bool(gather_distributed)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        # the covariance term grows as |z|^4 and its gradient as |z|^3: refuse entries whose square of
        # the squared covariance would overflow the inputs' dtype, not return inf/NaN (issue 14)
        floats = [z for z in (z1, z2) if isinstance(z, Tensor) and z.is_floating_point()]
        for name, z in (("z1", z1), ("z2", z2)):
            if isinstance(z, Tensor) and z.is_floating_point() and z.numel():
                limit = min(torch.finfo(x.dtype).max for x in floats) ** 0.25 / 16
                largest = float(z.detach().abs().max())
                if math.isfinite(largest) and largest > limit:
                    raise ValueError(f"{name}: entries up to {largest:.3g} overflow VICReg's squared "
                                     f"covariance in {z.dtype} (keep them below {limit:.3g})")
        a, b = two_batches(z1, z2, self.gather_distributed)
        invariance = (a - b).pow(2).mean()
        variance = 0.5 * (variance_term(a, self.eps) + variance_term(b, self.eps))
        covariance = covariance_term(a) + covariance_term(b)
        return self.lambda_param * invariance + self.mu_param * variance + self.nu_param * covariance

    def extra_repr(self) -> str:
        return f"lambda_param={self.lambda_param:g}, mu_param={self.mu_param:g}, nu_param={self.nu_param:g}"



