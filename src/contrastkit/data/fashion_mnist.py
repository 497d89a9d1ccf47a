"""Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017, arXiv:1708.07747) from Debian's IDX files, and its
(image, caption, label) rows with captions generated from the labels.

Debian's ``dataset-fashion-mnist`` package installs ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``
in ``/usr/share/datasets/fashion-mnist/``: 60,000 training and the official 10,000 test images,
28x28 grey, labels 0-9.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .captions import CaptionSpec, generate_captions, rows_kept
from .idx import load_idx
from .image_captions import ImageCaptionData
from .images import ImageData

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
SPLITS = {"train": "train", "test": "t10k"}


def fashion_mnist_files(split: str, root: str | Path | None = None) -> tuple[Path, Path]:
    """``(images, labels)`` IDX paths of ``split`` (``"train"`` or ``"test"``) under ``root``
    (default Debian's folder); raises ``ValueError`` naming the missing file and the package."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {tuple(SPLITS)}, got {split!r}")
    folder = Path(root) if root is not None else DEBIAN_DIR
    paths = tuple(folder / f"{SPLITS[split]}-{kind}-ubyte.gz" for kind in ("images-idx3", "labels-idx1"))
    for path in paths:
        if not path.is_file():
            raise ValueError(f"root: {path} does not exist (install Debian's dataset-fashion-mnist, or "
                             f"point root at a folder holding the Fashion-MNIST IDX .gz files)")
    return paths


def load_fashion_mnist(split: str = "train", root: str | Path | None = None,
                       max_samples: int | None = None) -> ImageData:
    """Images ``(N, 1, 28, 28)`` in [0, 1] with labels; ``max_samples`` keeps the first rows."""
    data = load_idx(*fashion_mnist_files(split, root))
    if max_samples is not None:
        if isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 1:
            raise ValueError(f"max_samples: expected a positive int, got {max_samples!r}")
        data = data.subset(torch.arange(min(max_samples, len(data))))
    return data


def fashion_mnist_captions(spec: CaptionSpec, split: str = "train", *, seed: int = 0,
                           hold_out: bool | None = None, root: str | Path | None = None,
                           max_samples: int | None = None) -> ImageCaptionData:
    """One generated caption per image (:func:`generate_captions`, deterministic per ``seed``).

    ``hold_out`` drops the images of ``spec.held_out_classes`` entirely (the training split's
    default); the test split keeps every class by default, for the zero-shot table.
    """
    if len(spec.class_names) != 10:
        raise ValueError(f"class_names: Fashion-MNIST has 10 classes, got {len(spec.class_names)}")
    data = load_fashion_mnist(split, root, max_samples)
    if hold_out if hold_out is not None else split == "train":
        data = data.subset(torch.from_numpy(rows_kept(data.labels.numpy(), spec.held_out_indices())))
    captions = generate_captions(data.labels.numpy(), spec, seed)
    return ImageCaptionData(data.images, captions, torch.arange(len(data)), data.labels, data.names)
