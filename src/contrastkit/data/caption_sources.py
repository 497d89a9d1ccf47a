"""Image-caption data sources as the recipes name them (``[data] name = ...``)."""

from __future__ import annotations

from .caption_table import read_image_captions
from .captions import CaptionSpec
from .fashion_mnist import fashion_mnist_captions
from .image_captions import ImageCaptionData


def fashion_mnist_caption_source(captions: dict, split: str = "train", hold_out: bool = True,
                                 caption_seed: int = 0, root: str | None = None) -> ImageCaptionData:
    """Fashion-MNIST (image, caption, label, group) rows; ``captions`` is the recipe's
    ``[data.captions]`` table (:class:`~contrastkit.data.CaptionSpec`), ``hold_out`` drops the
    images of its ``held_out_classes`` (the zero-shot "unseen" classes) entirely."""
    spec = CaptionSpec.from_mapping(captions)
    return fashion_mnist_captions(spec, split, seed=caption_seed, hold_out=hold_out, root=root)


def image_caption_source(path: str, image_column: str = "image", caption_column: str = "caption",
                         image_size: list[int] | int = 28, channels: int = 1,
                         label_column: str | None = None) -> ImageCaptionData:
    """A user's csv / tsv / jsonl / parquet image-caption table (:func:`read_image_captions`); rows
    naming the same image share a ``group``."""
    size = image_size if isinstance(image_size, int) else tuple(image_size)
    return read_image_captions(path, image_column, caption_column, size=size, channels=channels,
                               label_column=label_column)
