"""The built-in components, one registration per line (see :mod:`.registry`)."""

from __future__ import annotations

from ..data import load_digits, load_idx, load_image_folder, load_npz
from ..encoders import MLP, ProjectionHead, SmallCNN
from ..views import ImageViews
from .registry import DATA_SOURCES, ENCODERS, HEADS, VIEWS


def _digits():
    return load_digits()


def _image_folder(path: str, image_size: tuple[int, int] | list[int] = (28, 28), channels: int = 1):
    return load_image_folder(path, tuple(image_size), channels)


def _idx(path: str, labels_path: str | None = None):
    return load_idx(path, labels_path)


def _npz(path: str, images_key: str | None = None, labels_key: str | None = None):
    return load_npz(path, images_key, labels_key)


def _identity_views(inputs, generator=None):
    return [inputs, inputs]


DATA_SOURCES.register("digits", _digits, "scikit-learn's 1,797 8x8 handwritten digits (bundled)")
DATA_SOURCES.register("idx", _idx, "IDX image file (+ labels_path), .gz too, e.g. Fashion-MNIST")
DATA_SOURCES.register("npz", _npz, ".npz with images (images/x/X/data) and labels (labels/y/Y/targets)")
DATA_SOURCES.register("image_folder", _image_folder, "folder of images, labelled by sub-folder")

VIEWS.register("image", ImageViews, "random resized crop, rotation, flip, jitter, noise, erasing (batched)")
VIEWS.register("identity", _identity_views, "two unchanged copies (paired data, or tests)")

ENCODERS.register("small_cnn", SmallCNN, "conv-BN-ReLU blocks + global pooling, for small images")
ENCODERS.register("mlp", MLP, "multi-layer perceptron on flattened inputs")

HEADS.register("projection", ProjectionHead, "SimCLR projection head Linear-BN-ReLU-Linear")
HEADS.register("mlp", MLP, "multi-layer perceptron")
