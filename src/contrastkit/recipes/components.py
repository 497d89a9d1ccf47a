"""The built-in components, one registration per line (see :mod:`.registry`)."""

from __future__ import annotations

from ..data import load_digits, load_idx, load_image_folder, load_npz, load_texts
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


def _texts(path: str, column: str = "text", label_column: str | None = None):
    return load_texts(path, column, label_column)


class IdentityViews:
    """``num_views`` unchanged copies of the batch: paired data, or SimCSE, where the encoder's
    dropout makes the views differ."""

    def __init__(self, num_views: int = 2):
        if isinstance(num_views, bool) or not isinstance(num_views, int) or num_views < 1:
            raise ValueError(f"num_views: expected an int >= 1, got {num_views!r}")
        self.num_views = num_views

    def __call__(self, inputs, generator=None) -> list:
        return [inputs] * self.num_views


DATA_SOURCES.register("digits", _digits, "scikit-learn's 1,797 8x8 handwritten digits (bundled)")
DATA_SOURCES.register("idx", _idx, "IDX image file (+ labels_path), .gz too, e.g. Fashion-MNIST")
DATA_SOURCES.register("npz", _npz, ".npz with images (images/x/X/data) and labels (labels/y/Y/targets)")
DATA_SOURCES.register("image_folder", _image_folder, "folder of images, labelled by sub-folder")
DATA_SOURCES.register("texts", _texts, "text column (+ label_column) of a jsonl / csv / parquet file")

VIEWS.register("image", ImageViews, "random resized crop, rotation, flip, jitter, noise, erasing (batched)")
VIEWS.register("identity", IdentityViews, "unchanged copies (SimCSE: dropout makes the views)")
VIEWS.register("text", "contrastkit.views.text:TextViews", "word deletion / shuffle / span cut-off per view")

ENCODERS.register("small_cnn", SmallCNN, "conv-BN-ReLU blocks + global pooling, for small images")
ENCODERS.register("mlp", MLP, "multi-layer perceptron on flattened inputs")
ENCODERS.register("text", "contrastkit.encoders.text:TextEncoder", "Hugging Face model folder + pooling")
ENCODERS.register(
    "small_transformer",
    "contrastkit.encoders.small_transformer:small_transformer",
    "randomly initialised small BERT with an installed tokenizer",
)

HEADS.register("projection", ProjectionHead, "SimCLR projection head Linear-BN-ReLU-Linear")
HEADS.register("mlp", MLP, "multi-layer perceptron")
