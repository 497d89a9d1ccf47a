"""IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.

Format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte magic ``0 0 T D`` where T is
the element type (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64) and
D the number of dimensions, then D big-endian uint32 sizes, then the data in row-major order.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from .images import ImageData, to_image_tensor, to_labels

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (``.gz`` decompressed on the fly) into a NumPy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = np.dtype(_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: header says {shape} ({expected} bytes), file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_idx(images_path: str | Path, labels_path: str | Path | None = None) -> ImageData:
    """Images from an IDX file of shape ``(N, H, W)``, with labels from a second IDX file."""
    images = to_image_tensor(read_idx(images_path), "images")
    labels = None if labels_path is None else to_labels(read_idx(labels_path), images.shape[0])
    return ImageData(images, labels)
