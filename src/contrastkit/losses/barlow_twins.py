"""Barlow Twins: redundancy reduction through the cross-correlation of two views' features."""

from __future__ import annotations

from torch import Tensor, nn

from ._baselines import check_coefficient, two_batches

#: BatchNorm's default epsilon, used by the paper's ``bn`` layer and by lightly's ``F.batch_norm``.
BATCH_NORM_EPS = 1e-5


def standardize(z: Tensor, eps: float = BATCH_NORM_EPS) -> Tensor:
    """``(z - mean) / sqrt(var + eps)`` per feature over the batch (biased variance, as BatchNorm)."""
    centred = z - z.mean(dim=0)
    return centred / (centred.pow(2).mean(dim=0) + eps).sqrt()


class BarlowTwins(nn.Module):
    r"""Barlow Twins (Zbontar, Jing, Misra, LeCun & Deny, ICML 2021, arXiv:2103.03230, Eq. 1 and
    Algorithm 1).

    .. math::
        \mathcal{L} = \sum_i (1 - C_{ii})^2 + \lambda \sum_i\sum_{j\neq i} C_{ij}^2,\qquad
        C = \frac{1}{N}\,\bar z_1^{\top} \bar z_2

    where :math:`\bar z` is :math:`z` standardised per feature over the batch (mean 0, biased
    variance 1, epsilon ``1e-5`` as BatchNorm). Equal to lightly's ``BarlowTwinsLoss``.

    Args:
        lambda_param: :math:`\lambda \ge 0` (default ``5e-3``, the paper's).
        gather_distributed: standardise and correlate over the global batch (every rank's rows,
            gathered with gradient), as the paper's SyncBatchNorm + all-reduced ``C``; every rank
            returns the global loss. (lightly standardises per rank and averages ``C``, which differs
            from the one-process loss unless the per-rank statistics agree.)
    Shapes:
        z1, z2 ``(N, D)`` projector outputs, ``N >= 2``; returns a scalar.
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, ``N < 2`` or a negative
        or non-finite ``lambda_param``.
    """

    supports_gather_distributed = True

    def __init__(self, lambda_param: float = 5e-3, gather_distributed: bool = False):
        super().__init__()
        self.lambda_param = check_coefficient("lambda_param", lambda_param)
        self.gather_distributed = bool(gather_distributed)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        a, b = two_batches(z1, z2, self.gather_distributed)
        c = standardize(a).T @ standardize(b) / a.shape[0]  # (D, D)
        diagonal = c.diagonal()
        on = (1 - diagonal).pow(2).sum()
        off = c.pow(2).sum() - diagonal.pow(2).sum()
        return on + self.lambda_param * off

    def extra_repr(self) -> str:
        return f"lambda_param={self.lambda_param:g}"
