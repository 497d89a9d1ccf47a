"""A small convolutional encoder for small images (8x8 digits up to ~64x64)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return value


class _ConvBNReLU(nn.Sequential):
    def __init__(self, channels: int):
        super().__init__(nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                         nn.ReLU(inplace=True))


class _Residual(nn.Module):
    """``relu(x + BN(conv(relu(BN(conv(x))))))``: a basic residual block at constant width."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(x + self.body(x))


class SmallCNN(nn.Module):
    """Conv(3x3) -> BN -> ReLU blocks; every block after the first halves the resolution with
    stride 2 and doubles the width, then global average pooling and a linear map to
    ``embedding_dim``. ``extra`` adds layers after each block's first conv, at its resolution and
    width: ``extra_kind = "conv"`` one more Conv-BN-ReLU each, ``"residual"`` one basic residual
    block each (two convs and an identity shortcut).

    Args:
        in_channels: image channels (1 grey, 3 RGB).
        width: channels of the first block.
        depth: number of conv blocks.
        embedding_dim: size of the output representation.
        image_size: expected input ``(H, W)``; stored so that a saved encoder knows its input.
        extra: layers added to every block (0 = the plain network, as before this option).
        extra_kind: ``"conv"`` or ``"residual"``: what each extra layer is.
    Shapes:
        ``(N, in_channels, H, W)`` -> ``(N, embedding_dim)``.

    The convolutions run in ``torch.channels_last`` memory format (weights converted here, input
    in :meth:`forward`): on CPU a step costs ~0.7-0.8x of the default layout for 8x8 and 28x28
    images (``benchmarks/image_step_speed.py``). Values equal the default layout's up to float
    rounding; saved weights are written contiguous and load into either layout.
    """

    config_keys = ("in_channels", "width", "depth", "embedding_dim", "image_size", "extra", "extra_kind")

    def __init__(
        self,
        in_channels: int = 1,
        width: int = 32,
        depth: int = 3,
        embedding_dim: int = 128,
        image_size: tuple[int, int] | list[int] = (8, 8),
        extra: int = 0,
        extra_kind: str = "conv",
    ):
        super().__init__()
        self.in_channels = _positive_int("in_channels", in_channels)
        self.width = _positive_int("width", width)
        self.depth = _positive_int("depth", depth)
        self.embedding_dim = _positive_int("embedding_dim", embedding_dim)
        if len(image_size) != 2:
            raise ValueError(f"image_size: expected (H, W), got {image_size!r}")
        self.image_size = [_positive_int("image_size", int(s)) for s in image_size]
        if isinstance(extra, bool) or not isinstance(extra, int) or extra < 0:
            raise ValueError(f"extra: expected an int >= 0, got {extra!r}")
        if extra_kind not in ("conv", "residual"):
            raise ValueError(f"extra_kind: expected 'conv' or 'residual', got {extra_kind!r}")
        self.extra, self.extra_kind = extra, extra_kind
        layer = _ConvBNReLU if extra_kind == "conv" else _Residual
        layers, channels = [], self.in_channels
        for block in range(self.depth):
            out = self.width * 2**block
            layers += [
                nn.Conv2d(channels, out, 3, stride=1 if block == 0 else 2, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            layers += [layer(out) for _ in range(self.extra)]  # none by default: same state-dict keys
            channels = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.out = nn.Linear(channels, self.embedding_dim)
        self.features.to(memory_format=torch.channels_last)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.in_channels, *self.image_size)

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or images.shape[1] != self.in_channels:
            raise ValueError(f"images: expected (N, {self.in_channels}, H, W), got {tuple(images.shape)}")
        images = images.contiguous(memory_format=torch.channels_last)
        return self.out(torch.flatten(self.pool(self.features(images)), 1))
