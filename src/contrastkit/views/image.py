"""Batched, seeded random augmentations for small images, in torch ops on the images' device.

Each call draws one random geometric transform per image (random resized crop, rotation,
horizontal flip, combined into a single affine map and applied with ``grid_sample``), then
photometric jitter (brightness, contrast), additive Gaussian noise and random erasing. The
SimCLR paper (Chen et al., 2020, arXiv:2002.05709, Sec. 3 and Appendix A) motivates the recipe:
crop + colour distortion are the key augmentations; for grey 8x8 / 28x28 digits we keep crop,
small rotations and intensity changes, and leave flips off by default (they change a digit's identity).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _check_range(name: str, value, low: float, high: float) -> tuple[float, float]:
    a, b = (float(v) for v in value)
    if not (low <= a <= b <= high):
        raise ValueError(f"{name}: expected {low} <= min <= max <= {high}, got {value}")
    return a, b


def _check_unit(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: expected a value in [0, 1], got {value}")
    return value


def _check_nonnegative(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name}: expected a finite value >= 0, got {value}")
    return value


class ImageViews:
    """Generate ``num_views`` random views of a batch of images.

    Args:
        num_views: views per image (>= 1).
        crop_scale: range of the crop's area as a fraction of the image.
        crop_ratio: range of the crop's aspect ratio (width / height), sampled log-uniformly.
        max_rotation: rotations are uniform in ``[-max_rotation, max_rotation]`` degrees.
        flip_prob: probability of a horizontal flip.
        brightness: additive brightness shift, uniform in ``[-brightness, brightness]``.
        contrast: contrast factor uniform in ``[1 - contrast, 1 + contrast]`` around each image's mean.
        noise_std: standard deviation of additive Gaussian noise.
        erase_prob: probability of erasing (zeroing) one random rectangle.
        erase_scale: range of the erased rectangle's area as a fraction of the image.
    Shapes:
        ``images (N, C, H, W)`` floating, values in [0, 1]; returns a list of ``num_views`` tensors of
        the same shape, dtype and device, clamped to [0, 1].
    """

    def __init__(
        self,
        num_views: int = 2,
        crop_scale=(0.5, 1.0),
        crop_ratio=(3 / 4, 4 / 3),
        max_rotation: float = 15.0,
        flip_prob: float = 0.0,
        brightness: float = 0.2,
        contrast: float = 0.3,
        noise_std: float = 0.05,
        erase_prob: float = 0.0,
        erase_scale=(0.05, 0.2),
    ):
        if not isinstance(num_views, int) or num_views < 1:
            raise ValueError(f"num_views: expected an int >= 1, got {num_views!r}")
        self.num_views = num_views
        self.crop_scale = _check_range("crop_scale", crop_scale, 1e-3, 1.0)
        self.crop_ratio = _check_range("crop_ratio", crop_ratio, 1e-2, 1e2)
        self.max_rotation = _check_nonnegative("max_rotation", max_rotation)
        self.flip_prob = _check_unit("flip_prob", flip_prob)
        self.brightness = _check_nonnegative("brightness", brightness)
        self.contrast = _check_unit("contrast", contrast)
        self.noise_std = _check_nonnegative("noise_std", noise_std)
        self.erase_prob = _check_unit("erase_prob", erase_prob)
        self.erase_scale = _check_range("erase_scale", erase_scale, 0.0, 1.0)

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> list[Tensor]:
        if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
            raise ValueError(
                f"images: expected a floating (N, C, H, W) tensor, got "
                f"{getattr(images, 'shape', type(images).__name__)}"
            )
        generator = (
            generator
            if generator is not None
            else torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))
        )
        return [self.one_view(images, generator) for _ in range(self.num_views)]

    def one_view(self, images: Tensor, generator: torch.Generator) -> Tensor:
        n = images.shape[0]
        device, dtype = images.device, images.dtype

        def uniform(low: float, high: float, size=(n,)) -> Tensor:
            # parameters are drawn on CPU from the seeded generator, then moved: same values on any device
            return (low + (high - low) * torch.rand(size, generator=generator, dtype=torch.float64)).to(
                device
            )

        theta = self._affine(n, uniform).to(dtype)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        contrast = uniform(1 - self.contrast, 1 + self.contrast).view(n, 1, 1, 1).to(dtype)
        brightness = uniform(-self.brightness, self.brightness).view(n, 1, 1, 1).to(dtype)
        out = (out - mean) * contrast + mean + brightness
        if self.noise_std > 0:
            seed = int(torch.randint(2**62, (1,), generator=generator))
            device_generator = torch.Generator(device=device).manual_seed(seed)
            out = out + self.noise_std * torch.randn(
                out.shape, generator=device_generator, device=device, dtype=dtype
            )
        if self.erase_prob > 0:
            out = out * self._keep_mask(images.shape, uniform).to(dtype)
        return out.clamp(0.0, 1.0)

    def _affine(self, n: int, uniform) -> Tensor:
        """Per-image ``(2, 3)`` matrices mapping output coordinates to input coordinates in
        ``affine_grid``'s normalised [-1, 1] frame: crop of area ``s`` and ratio ``r`` has half-sizes
        ``sqrt(s r)``, ``sqrt(s / r)``, centred anywhere that keeps it inside the image."""
        area = uniform(*self.crop_scale)
        log_ratio = uniform(math.log(self.crop_ratio[0]), math.log(self.crop_ratio[1]))
        ratio = log_ratio.exp()
        width = (area * ratio).sqrt().clamp(max=1.0)
        height = (area / ratio).sqrt().clamp(max=1.0)
        center_x = uniform(-1.0, 1.0) * (1 - width)
        center_y = uniform(-1.0, 1.0) * (1 - height)
        angle = uniform(-self.max_rotation, self.max_rotation) * (math.pi / 180)
        flip = torch.where(uniform(0.0, 1.0) < self.flip_prob, -1.0, 1.0).to(angle)
        cos, sin = angle.cos(), angle.sin()
        theta = torch.zeros(n, 2, 3, dtype=torch.float64, device=area.device)
        theta[:, 0, 0] = width * cos * flip
        theta[:, 0, 1] = -height * sin
        theta[:, 1, 0] = width * sin * flip
        theta[:, 1, 1] = height * cos
        theta[:, 0, 2] = center_x
        theta[:, 1, 2] = center_y
        return theta

    def _keep_mask(self, shape, uniform) -> Tensor:
        n, _, h, w = shape
        area = uniform(*self.erase_scale)
        eh = (area.sqrt() * h).round().clamp(min=1)
        ew = (area.sqrt() * w).round().clamp(min=1)
        top = (uniform(0.0, 1.0) * (h - eh + 1)).floor()
        left = (uniform(0.0, 1.0) * (w - ew + 1)).floor()
        active = uniform(0.0, 1.0) < self.erase_prob
        rows = torch.arange(h, device=area.device, dtype=area.dtype).view(1, h, 1)
        cols = torch.arange(w, device=area.device, dtype=area.dtype).view(1, 1, w)
        inside = (
            (rows >= top.view(n, 1, 1))
            & (rows < (top + eh).view(n, 1, 1))
            & (cols >= left.view(n, 1, 1))
            & (cols < (left + ew).view(n, 1, 1))
        )
        return (~(inside & active.view(n, 1, 1))).unsqueeze(1)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"ImageViews({fields})"
