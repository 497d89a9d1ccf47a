"""DHEL and KCL: decoupled hyperspherical energy and kernel contrastive losses (Koromilas et al.)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._common import (
    ContrastiveLoss,
    check_embeddings,
    check_positive_float,
    check_same_shape,
    normalize,
)
from ._views import check_min_rows, prepare_two_views, same_view_energy


class DHEL(ContrastiveLoss):
    r"""Decoupled Hyperspherical Energy Loss (Koromilas, Bouritsas, Giannakopoulos, Nicolaou &
    Panagakis, 2024, "Bridging Mini-Batch and Asymptotic Analysis in Contrastive Learning: From
    InfoNCE to Kernel-Based Losses", ICML 2024, arXiv:2405.18045).

    .. math::
        \mathcal{L} = \frac{1}{N}\sum_{i=1}^{N}\Big[-\frac{\langle u_i, v_i\rangle}{\tau}
            + \log\sum_{j\neq i} e^{\langle u_i, u_j\rangle/\tau}
            + \log\sum_{j\neq i} e^{\langle v_i, v_j\rangle/\tau}\Big]

    with :math:`u = \hat z_1`, :math:`v = \hat z_2`. The positive appears only in the numerator and
    the uniformity (energy) terms use same-view pairs only: no cross-view negatives. The last term
    is the second view's energy; ``include_augs=False`` drops it. One direction (anchors are the
    rows of ``z1``), mean over the N anchors. This follows the official code (pakoromilas/DHEL-KCL,
    ``DHEL``, default ``include_augs=True``); whether the paper's displayed equation includes the
    second view's energy was not verified (docs/formulas.md, Open points).

    Args:
        temperature: :math:`\tau > 0` (default 0.3, the official class default).
        include_augs: add the second view's energy (default ``True``).
        learnable_temperature, normalize, reduction, backend, tile_size: see :class:`InfoNCE`.
        gather_distributed: the same-view energies run over the rows of every rank, gathered
            with gradient; ``mean`` is this rank's share of the global mean.
    Shapes:
        z1, z2 ``(N, d)`` with ``N >= 2``; ``reduction="none"`` returns ``(N,)``.
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, fewer than 2 rows, non-finite input or
        ``temperature <= 0``.
    """

    supports_gather_distributed = True

    supports_false_negatives = True

    def __init__(self, temperature: float = 0.3, include_augs: bool = True, **options):
        super().__init__(temperature, **options)
        self.include_augs = bool(include_augs)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        u, v = prepare_two_views(self, z1, z2)
        (all_u, all_v), rows = self.gather(u, v if self.include_augs else None)
        aligned = (u * v).sum(dim=1)
        loss = -aligned * self.temperature.scale() + same_view_energy(self, u, all_u, rows, aligned)
        if self.include_augs:
            loss = loss + same_view_energy(self, v, all_v, rows, aligned)
        return self.reduce_rows(loss, rows)

    def extra_repr(self) -> str:
        return f"include_augs={self.include_augs}"


def _riesz(squared_distance: Tensor, s: float) -> Tensor:
    if s < 0:  # -||x - y||^{|s|}: 0 at coincidence; the clamp keeps that point's gradient finite (0)
        return -squared_distance.clamp(min=torch.finfo(squared_distance.dtype).tiny).pow(-s / 2)
    return squared_distance.pow(-s / 2)  # ||x - y||^{-s}, infinite at coincidence (refused below)


def check_no_coincidence(squared_distance: Tensor, scale: Tensor, what) -> None:
    """Raise ``ValueError`` when a squared distance is 0 up to rounding (``<= 16 eps * scale``):
    the Riesz kernel :math:`r^{-t}`, ``t > 0``, is infinite there. ``what(k)`` describes pair ``k``."""
    tolerance = 16 * torch.finfo(squared_distance.dtype).eps * scale
    close = (squared_distance.detach() <= tolerance).nonzero()
    if len(close):
        raise ValueError(f"{what(int(close[0]))}; the Riesz kernel r^-t with t > 0 is infinite at "
                         "distance 0 (use t < 0 or another kernel for collapsed embeddings)")


# Each kernel as (energy of one pair, alignment of one positive pair), functions of the squared
# Euclidean distance r2 and the kernel parameter t; docs/formulas.md, DHEL and KCL, and the official utils.py.
KERNELS = {
    "gaussian": (lambda r2, t: torch.exp(-t * r2), lambda r2, t: torch.exp(-t * r2)),
    "log": (lambda r2, t: -0.5 * torch.log1p(t * r2), lambda r2, t: -torch.log1p(t * r2)),
    "imq": (lambda r2, t: t / torch.sqrt(t * t + r2), lambda r2, t: t / torch.sqrt(t * t + r2)),
    "riesz": (_riesz, _riesz),
    "gaussian_riesz": (_riesz, lambda r2, t: torch.exp(-2.0 * r2)),
}


class KCL(nn.Module):
    r"""Kernel Contrastive Loss (Koromilas et al., 2024, ICML 2024, arXiv:2405.18045).

    .. math::
        \mathcal{L} = -\frac{2}{N}\sum_{i=1}^{N} a(\lVert u_i - v_i\rVert^2)
            + \gamma\Big[\binom{N}{2}^{-1}\sum_{i<j} k(\lVert u_i - u_j\rVert^2)
            + \binom{N}{2}^{-1}\sum_{i<j} k(\lVert v_i - v_j\rVert^2)\Big]

    on :math:`u = \hat z_1`, :math:`v = \hat z_2`. With the default Gaussian kernel
    :math:`k(r^2) = a(r^2) = e^{-t r^2}`. The other kernels follow the official code
    (pakoromilas/DHEL-KCL ``utils.py``), :math:`r = \lVert x - y\rVert`:
    ``"log"`` :math:`k = -\tfrac12\log(1 + t r^2)`, :math:`a = -\log(1 + t r^2)`;
    ``"imq"`` :math:`k = a = t/\sqrt{t^2 + r^2}`; ``"riesz"`` :math:`k = a = r^{-t}` (negated for
    :math:`t < 0`); ``"gaussian_riesz"`` the Riesz energy with the Gaussian alignment at fixed
    :math:`t = 2`. Not a softmax objective: the ``N x N`` pairwise distances of each view are
    materialised (``O(N^2)`` memory).

    Args:
        t: kernel parameter (default 2.0); must be ``> 0`` except for the Riesz kernels, where it
            is any finite non-zero value.
        gamma: weight of the energy term, ``>= 0`` (default 16.0).
        kernel: one of ``"gaussian"`` (default), ``"log"``, ``"imq"``, ``"riesz"``, ``"gaussian_riesz"``.
        normalize: L2-normalise inputs (default ``True``, as the official code always does).
    Shapes:
        z1, z2 ``(N, d)`` with ``N >= 2``.
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, fewer than 2 rows, non-finite input, an
        unknown kernel, an out-of-range ``t`` / ``gamma``, or (Riesz kernels with ``t > 0``) two
        rows of a view that coincide up to rounding, or (``"riesz"``) a positive pair at distance
        0, where the kernel is infinite.
    """

    def __init__(self, t: float = 2.0, gamma: float = 16.0, kernel: str = "gaussian",
                 normalize: bool = True):
        super().__init__()
        if kernel not in KERNELS:
            raise ValueError(f"kernel: expected one of {tuple(KERNELS)}, got {kernel!r}")
        t = float(t)
        if kernel.endswith("riesz"):
            if not math.isfinite(t) or t == 0:
                raise ValueError(f"t: expected a finite non-zero value for the Riesz kernel, got {t}")
        else:
            t = check_positive_float("t", t)
        gamma = float(gamma)
        if not math.isfinite(gamma) or gamma < 0:
            raise ValueError(f"gamma: expected a finite value >= 0, got {gamma}")
        self.t, self.gamma, self.kernel = t, gamma, kernel
        self.normalize = bool(normalize)

    @staticmethod
    def pairwise_squared_distances(x: Tensor) -> Tensor:
        """``||x_i - x_j||^2`` for ``i < j`` (the order of ``torch.pdist``), shape ``(N(N-1)/2,)``."""
        rows, cols = torch.triu_indices(x.shape[0], x.shape[0], offset=1, device=x.device)
        squared_norms = x.pow(2).sum(dim=1)
        gram = x @ x.T  # (N, N); no (N, N, d) difference tensor
        return (squared_norms[rows] + squared_norms[cols] - 2 * gram[rows, cols]).clamp(min=0)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        u = normalize(check_embeddings("z1", z1), self.normalize)
        v = normalize(check_embeddings("z2", z2), self.normalize)
        check_same_shape("z1", u, "z2", v)
        check_min_rows("z1", u, 2)
        energy_kernel, alignment_kernel = KERNELS[self.kernel]
        distances = {name: self.pairwise_squared_distances(x) for name, x in (("z1", u), ("z2", v))}
        aligned = (u - v).pow(2).sum(dim=1)  # (N,)
        if self.kernel.endswith("riesz") and self.t > 0:
            rows, cols = torch.triu_indices(u.shape[0], u.shape[0], offset=1)
            for name, x in (("z1", u), ("z2", v)):
                scale = x.detach().pow(2).sum(dim=1).max()
                check_no_coincidence(distances[name], scale.clamp(min=1) if self.normalize else scale,
                                     lambda k, n=name: f"{n}: rows {rows[k]} and {cols[k]} coincide")
            if self.kernel == "riesz":
                check_no_coincidence(aligned, torch.zeros((), dtype=aligned.dtype),
                                     lambda k: f"z2: row {k} coincides with z1's row {k}")
        if self.kernel.endswith("riesz") and self.t < 0:
            # -r^|t| and its gradient |t| r^(|t|-1) grow without bound in r: refuse a |t| that overflows
            power = -self.t / 2
            largest = float(max(r2.detach().max() for r2 in distances.values()).clamp(min=1))
            log_bound = power * math.log(largest) + math.log(4 * power * (1 + self.gamma))
            if log_bound > math.log(torch.finfo(u.dtype).max) - 2:
                raise ValueError(f"t: the Riesz kernel -r^|t| with t={self.t} overflows {u.dtype} at the "
                                 f"largest distance {math.sqrt(largest):.3g}; use a smaller |t|")
        energy = sum(energy_kernel(r2, self.t).mean() for r2 in distances.values())
        alignment = 2 * alignment_kernel(aligned, self.t).mean()
        loss = -alignment + self.gamma * energy
        if not torch.isfinite(loss.detach()):
            raise ValueError(f"t: the {self.kernel!r} kernel with t={self.t} overflows {loss.dtype} "
                             "on these inputs (distances too close to 0)")
        return loss

    def extra_repr(self) -> str:
        return f"t={self.t}, gamma={self.gamma}, kernel={self.kernel!r}"
