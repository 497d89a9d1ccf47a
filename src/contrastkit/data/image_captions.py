"""Image-caption pairs: each row a caption of one image; rows sharing an image form one group."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class ImageCaptionData:
    """``N`` (image, caption) rows over ``U`` distinct images.

    ``images``: ``(U, C, H, W)`` float32 in [0, 1], each distinct image stored once;
    ``captions``: ``N`` non-empty strings; ``image_index``: ``(N,)`` int64, the image of each row;
    ``labels``: ``(N,)`` int64 or ``None``; ``names``: ``U`` image names (file names or indices).
    Rows with the same ``image_index`` are one group: the ``group`` field reaches the loss as
    ``ids``, so captions of one image are never each other's negatives. Follows the trainer's field
    protocol (:mod:`contrastkit.data.fields`): ``fields`` and ``batch(indices) -> dict``.
    """

    images: Tensor
    captions: list[str]
    image_index: Tensor
    labels: Tensor | None = None
    names: list[str] | None = None

    def __post_init__(self):
        if not isinstance(self.images, Tensor) or self.images.dim() != 4:
            got = tuple(self.images.shape) if isinstance(self.images, Tensor) else type(self.images).__name__
            raise ValueError(f"images: expected a (U, C, H, W) tensor, got {got}")
        n, u = len(self.captions), self.images.shape[0]
        for row, caption in enumerate(self.captions):
            if not isinstance(caption, str) or not caption.strip():
                raise ValueError(f"captions: row {row} is not a non-empty string")
        index = torch.as_tensor(self.image_index)
        if index.shape != (n,) or index.is_floating_point() or (n and (index.min() < 0 or index.max() >= u)):
            raise ValueError(f"image_index: expected {n} integers in [0, {u}), "
                             f"got shape {tuple(index.shape)}")
        self.image_index = index.to(torch.long)
        if self.labels is not None:
            self.labels = torch.as_tensor(self.labels)
            if self.labels.shape != (n,) or self.labels.is_floating_point():
                raise ValueError(f"labels: expected {n} integer labels, got shape {tuple(self.labels.shape)}")
            self.labels = self.labels.to(torch.long)
        if self.names is None:
            self.names = [str(i) for i in range(u)]
        elif len(self.names) != u:
            raise ValueError(f"names: expected {u} names (one per image), got {len(self.names)}")

    def __len__(self) -> int:
        return len(self.captions)

    @property
    def num_images(self) -> int:
        return self.images.shape[0]

    def groups(self) -> Tensor:
        """``(N,)`` group id of each row: the index of its image."""
        return self.image_index

    @property
    def fields(self) -> tuple[str, ...]:
        return ("image", "text", "group") + (("label",) if self.labels is not None else ())

    def batch(self, index) -> dict:
        """The named fields of rows ``index``: ``image`` ``(B, C, H, W)``, ``text`` (list of ``B``
        strings), ``group`` ``(B,)`` and, with labels, ``label`` ``(B,)``."""
        index = torch.as_tensor(index, dtype=torch.long)
        out = {"image": self.images[self.image_index[index]],
               "text": [self.captions[i] for i in index.tolist()],
               "group": self.image_index[index]}
        if self.labels is not None:
            out["label"] = self.labels[index]
        return out

    def subset(self, index) -> ImageCaptionData:
        """Rows ``index`` (images no row uses are dropped and the rest renumbered in order)."""
        index = torch.as_tensor(index, dtype=torch.long)
        used, remap = torch.unique(self.image_index[index], return_inverse=True)
        return ImageCaptionData(self.images[used], [self.captions[i] for i in index.tolist()], remap,
                                None if self.labels is None else self.labels[index],
                                [self.names[i] for i in used.tolist()])
