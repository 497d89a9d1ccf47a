r"""Seeded image corruptions at three severities, for robustness evaluation.

The protocol follows the corruption benchmarks (Hendrycks & Dietterich, 2019, "Benchmarking Neural
Network Robustness to Common Corruptions and Perturbations", arXiv:1903.12261: each corruption at
graded severities, accuracy compared with the clean test set) as the REOBench study does for
remote-sensing encoders (arXiv:2505.16793). The levels below are our own, sized for 28x28 grey
images in [0, 1]:

==================  =====================================================  ==========
corruption          effect (``x`` in [0, 1], ``m`` the image mean)         severities
==================  =====================================================  ==========
``gaussian_noise``  ``clamp(x + sigma * n, 0, 1)``, ``n ~ N(0, 1)``        sigma 0.1, 0.2, 0.3
``blur``            Gaussian blur, std ``sigma`` pixels (reflect padding)  sigma 0.5, 1.0, 1.5
``contrast``        ``m + c * (x - m)``                                    c 0.6, 0.4, 0.2
``rotation``        rotation by ``+-a`` degrees (sign drawn per image)     a 15, 30, 45
``occlusion``       a zero square of side ``f * min(H, W)``, random place  f 0.3, 0.45, 0.6
==================  =====================================================  ==========
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

LEVELS = {
    "gaussian_noise": (0.1, 0.2, 0.3),
    "blur": (0.5, 1.0, 1.5),
    "contrast": (0.6, 0.4, 0.2),
    "rotation": (15.0, 30.0, 45.0),
    "occlusion": (0.3, 0.45, 0.6),
}
CORRUPTIONS = tuple(LEVELS)
SEVERITIES = (1, 2, 3)


def check_corruption(name: str) -> str:
    if name not in LEVELS:
        raise ValueError(f"corruption: unknown {name!r}; expected one of {CORRUPTIONS}")
    return name


def check_severity(severity: int) -> int:
    if isinstance(severity, bool) or severity not in SEVERITIES:
        raise ValueError(f"severity: expected one of {SEVERITIES}, got {severity!r}")
    return severity


def corrupt(images: Tensor, corruption: str, severity: int, seed: int = 0) -> Tensor:
    """``images`` ``(N, C, H, W)`` in [0, 1] with ``corruption`` at ``severity`` (1 mild .. 3 strong);
    random draws come from a CPU generator seeded with ``seed``, so a call is reproducible on any
    device. Returns a new tensor of the same shape, dtype and device, in [0, 1]."""
    check_corruption(corruption)
    level = LEVELS[corruption][check_severity(severity) - 1]
    if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
        raise ValueError(f"images: expected a floating (N, C, H, W) tensor, got "
                         f"{getattr(images, 'shape', type(images).__name__)}")
    generator = torch.Generator().manual_seed(seed)
    if corruption == "gaussian_noise":
        noise = torch.randn(images.shape, generator=generator).to(images)
        return (images + level * noise).clamp(0.0, 1.0)
    if corruption == "blur":
        return gaussian_blur(images, level)
    if corruption == "contrast":
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        return (mean + level * (images - mean)).clamp(0.0, 1.0)
    if corruption == "rotation":
        sign = torch.where(torch.rand(images.shape[0], generator=generator) < 0.5, -1.0, 1.0)
        return rotate(images, sign * level)
    return occlude(images, level, generator)


def gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur, kernel radius ``ceil(3 sigma)``, reflect padding (so a constant
    image stays constant)."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(images)
    channels = images.shape[1]
    out = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    out = F.conv2d(out, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
    return out.clamp(0.0, 1.0)


def rotate(images: Tensor, degrees: Tensor) -> Tensor:
    """Rotate each image about its centre by ``degrees[i]``, counter-clockwise as displayed (row 0
    at the top; 90 degrees is ``torch.rot90(images, 1, dims=(2, 3))``), bilinear, zeros outside."""
    angle = degrees.to(torch.float64) * (math.pi / 180)
    cos, sin = angle.cos(), angle.sin()
    theta = torch.zeros(images.shape[0], 2, 3, dtype=torch.float64)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin  # output -> input coordinates: rotation by -angle
    theta[:, 1, 0], theta[:, 1, 1] = sin, cos
    grid = F.affine_grid(theta.to(images), list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.clamp(0.0, 1.0)


def occlude(images: Tensor, fraction: float, generator: torch.Generator) -> Tensor:
    """Zero one square of side ``round(fraction * min(H, W))`` per image, placed uniformly inside it."""
    n, _, h, w = images.shape
    side = max(1, round(fraction * min(h, w)))
    top = torch.randint(0, h - side + 1, (n,), generator=generator)
    left = torch.randint(0, w - side + 1, (n,), generator=generator)
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    inside = ((rows >= top.view(n, 1, 1)) & (rows < (top + side).view(n, 1, 1))
              & (cols >= left.view(n, 1, 1)) & (cols < (left + side).view(n, 1, 1)))
    return images * (~inside).unsqueeze(1).to(images)
