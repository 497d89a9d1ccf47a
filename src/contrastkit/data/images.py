"""In-memory image data sets: a float tensor of images in [0, 1] with optional integer labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .rows import LabelledRows


@dataclass
class ImageData(LabelledRows):
    """``images``: ``(N, C, H, W)`` float32 in [0, 1]; ``labels``: ``(N,)`` int64 or ``None``;
    ``names``: one string per image (file name or row index), used by ``embed`` / ``search``."""

    images: Tensor
    labels: Tensor | None = None
    names: list[str] | None = None

    def __post_init__(self):
        if self.images.dim() != 4:
            raise ValueError(f"images: expected (N, C, H, W), got shape {tuple(self.images.shape)}")
        self.check_labels_and_names()

    @property
    def inputs(self) -> Tensor:
        return self.images

    def subset(self, index) -> ImageData:
        return ImageData(*self.subset_fields(index))


def to_image_tensor(array: np.ndarray, name: str = "images") -> Tensor:
    """Convert ``(N, H, W)``, ``(N, H, W, C)`` (C in 1, 3, 4) or ``(N, C, H, W)`` arrays to float32
    ``(N, C, H, W)`` in [0, 1]. Integer arrays in 0..255 are divided by 255, others by their dtype's maximum;
    float arrays must already lie in [0, 1]."""
    array = np.asarray(array)
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[-1] in (1, 3, 4) and array.shape[1] not in (1, 3, 4):
        array = np.transpose(array, (0, 3, 1, 2))
    elif array.ndim != 4:
        raise ValueError(f"{name}: expected 3-D or 4-D image array, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.integer):
        top = (
            255 if array.size == 0 or (array.min() >= 0 and array.max() <= 255) else np.iinfo(array.dtype).max
        )
        scaled = array.astype(np.float32) / float(top)
    elif np.issubdtype(array.dtype, np.floating):
        scaled = array.astype(np.float32)
        if scaled.size and (scaled.min() < 0 or scaled.max() > 1):
            raise ValueError(
                f"{name}: float images must lie in [0, 1], got range [{scaled.min():.3g}, {scaled.max():.3g}]"
            )
    else:
        raise ValueError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    if not np.isfinite(scaled).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return torch.from_numpy(np.ascontiguousarray(scaled))


def to_labels(array, n: int, name: str = "labels") -> Tensor:
    array = np.asarray(array)
    if array.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},), got {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name}: expected integer labels, got dtype {array.dtype}")
    return torch.from_numpy(array.astype(np.int64))


def load_digits() -> ImageData:
    """scikit-learn's bundled 1,797 handwritten digits (8x8, 17 grey levels), scaled to [0, 1]."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = torch.from_numpy((bunch.images / 16.0).astype(np.float32))[:, None]
    return ImageData(images, torch.from_numpy(bunch.target.astype(np.int64)))


def train_test_split(data: ImageData, test_fraction: float, seed: int) -> tuple[ImageData, ImageData]:
    """Seeded split; stratified by label when labels exist (each class keeps its share)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a value in (0, 1), got {test_fraction}")
    generator = torch.Generator().manual_seed(seed)
    n = len(data)
    if data.labels is None:  # one group: the permutation itself (no copies: millions of rows)
        order = torch.randperm(n, generator=generator)
        k = round(n * test_fraction)
        train_index, test_index = order[k:].sort().values, order[:k].sort().values
        del order
    else:
        train, test = [], []
        for c in torch.unique(data.labels):
            group = torch.nonzero(data.labels == c).flatten()
            order = group[torch.randperm(len(group), generator=generator)]
            k = round(len(group) * test_fraction)
            test.append(order[:k])
            train.append(order[k:])
        train_index, test_index = torch.cat(train).sort().values, torch.cat(test).sort().values
    if len(train_index) == 0 or len(test_index) == 0:
        raise ValueError(f"test_fraction: {test_fraction} leaves an empty split of {n} samples")
    return data.subset(train_index), data.subset(test_index)
