"""A user's image-caption table: a csv / tsv / jsonl / parquet file with an image-path column and a
caption column. Several rows may name the same image (several captions of it): they become one
group. Images of any size are brought to one size by :func:`load_resized`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .image_captions import ImageCaptionData
from .tables import read_table


def _as_size(size) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, int) and not isinstance(size, bool) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in pair):
        raise ValueError(f"size: expected a positive int or (height, width), got {size!r}")
    return pair


def load_resized(path: str | Path, size: int | tuple[int, int], channels: int = 1) -> np.ndarray:
    """One image as float32 ``(C, H, W)`` in [0, 1], with CLIP's evaluation transform:

    1. convert to ``channels`` (1: grey "L", 3: "RGB"; transparency dropped);
    2. scale, keeping the aspect ratio, so that the image just covers ``size = (H, W)`` (the
       scale factor is ``max(H / h, W / w)``), with bicubic filtering;
    3. crop the centre ``H x W``; divide by 255.

    Raises ``OSError`` (from Pillow) when the file is not an image; callers name the row.
    """
    from PIL import Image

    height, width = _as_size(size)
    mode = {1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise ValueError(f"channels: expected 1 or 3, got {channels!r}")
    with Image.open(path) as image:
        image = image.convert(mode)
        scale = max(height / image.height, width / image.width)
        new = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
        image = image.resize(new, Image.BICUBIC)
        left, top = (new[0] - width) // 2, (new[1] - height) // 2
        image = image.crop((left, top, left + width, top + height))
        array = np.asarray(image, dtype=np.float32) / 255.0
    return array[None] if channels == 1 else np.transpose(array, (2, 0, 1))


def read_image_captions(path: str | Path, image_column: str = "image", caption_column: str = "caption", *,
                        size: int | tuple[int, int] = 28, channels: int = 1, root: str | Path | None = None,
                        label_column: str | None = None) -> ImageCaptionData:
    """Read an image-caption table into :class:`ImageCaptionData`.

    Image paths are relative to ``root`` (default: the table's folder) unless absolute; rows naming
    the same file share one stored image and one group. ``label_column`` (optional, any values)
    becomes integer labels in sorted order of the distinct values.

    Raises:
        ValueError: naming the row (counted from 0, as every contrastkit reader) and the file, for an
        empty caption, an image path that does not exist, or a file that is not a readable image;
        a missing column; an empty table.
    """
    path = Path(path)
    columns = [image_column, caption_column] + ([label_column] if label_column else [])
    table = read_table(path, columns)
    size, base = _as_size(size), Path(root) if root is not None else path.parent
    if not table[image_column]:
        raise ValueError(f"path: {path.name} has no rows")
    images, names, index_of, image_index = [], [], {}, []
    for row, (image, caption) in enumerate(zip(table[image_column], table[caption_column])):
        if not isinstance(caption, str) or not caption.strip():
            raise ValueError(f"{caption_column}: row {row} of {path.name} has an empty caption "
                             f"(image {image!r})")
        if not isinstance(image, str) or not image.strip():
            raise ValueError(f"{image_column}: row {row} of {path.name} has no image path")
        file = Path(image) if Path(image).is_absolute() else base / image
        key = str(file.resolve())
        if key not in index_of:
            if not file.is_file():
                raise ValueError(f"{image_column}: row {row} of {path.name}: image file {file} "
                                 f"does not exist")
            try:
                images.append(load_resized(file, size, channels))
            except OSError as error:
                raise ValueError(f"{image_column}: row {row} of {path.name}: {file} is not a readable image "
                                 f"({type(error).__name__})") from None
            index_of[key] = len(names)
            names.append(image)
        image_index.append(index_of[key])
    labels = None
    if label_column:
        values = [str(v) for v in table[label_column]]
        code = {value: i for i, value in enumerate(sorted(set(values)))}
        labels = torch.tensor([code[v] for v in values], dtype=torch.long)
    captions = [c.strip() for c in table[caption_column]]
    return ImageCaptionData(torch.from_numpy(np.stack(images)), captions,
                            torch.tensor(image_index, dtype=torch.long), labels, names)
