"""Image folders: ``root/<class>/<image>`` (labelled by sub-folder) or ``root/<image>`` (unlabelled)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .images import ImageData

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def list_images(root: str | Path) -> list[Path]:
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise ValueError(f"path: {root} does not exist")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def read_image(path: Path, size: tuple[int, int], channels: int) -> np.ndarray:
    """One image as float32 ``(C, H, W)`` in [0, 1], converted to ``channels`` (1 grey, 3 RGB) and
    resized to ``size = (H, W)`` with bilinear filtering."""
    from PIL import Image

    mode = {1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise ValueError(f"channels: expected 1 or 3, got {channels}")
    with Image.open(path) as image:
        image = image.convert(mode).resize((size[1], size[0]), Image.BILINEAR)
        array = np.asarray(image, dtype=np.float32) / 255.0
    return array[None] if channels == 1 else np.transpose(array, (2, 0, 1))


def load_image_folder(root: str | Path, size: tuple[int, int], channels: int = 1) -> ImageData:
    """Read every image below ``root``. Labels come from the first-level sub-folder names (sorted,
    numbered from 0) when every image sits in one; otherwise the data set is unlabelled."""
    root = Path(root)
    paths = list_images(root)
    if not paths:
        raise ValueError(f"path: no images ({', '.join(IMAGE_SUFFIXES)}) found under {root}")
    images = torch.from_numpy(np.stack([read_image(p, size, channels) for p in paths]))
    parents = [p.relative_to(root).parts[:-1] if root.is_dir() else () for p in paths]
    labels = None
    if all(len(parts) == 1 for parts in parents):
        classes = sorted({parts[0] for parts in parents})
        if len(classes) > 1:
            code = {c: i for i, c in enumerate(classes)}
            labels = torch.tensor([code[parts[0]] for parts in parents], dtype=torch.long)
    names = [str(p.relative_to(root)) if root.is_dir() else p.name for p in paths]
    return ImageData(images, labels, names)
