"""Readers for user data and the bundled offline data sets, splits and samplers.

Images (:class:`ImageData`, float ``(N, C, H, W)`` in [0, 1]): :func:`load_digits` (scikit-learn),
:func:`load_idx` / :func:`read_idx` (MNIST-format, ``.gz`` too), :func:`load_npz`,
:func:`load_image_folder`, :func:`load_fashion_mnist` (Debian's IDX files).
Image-caption pairs (:class:`ImageCaptionData`): :func:`read_image_captions` (a user's table),
:func:`fashion_mnist_captions` (captions generated from labels, :class:`CaptionSpec`).
Texts: :class:`TextData`, :func:`load_texts`.
Tables: :func:`read_table` (jsonl / csv / parquet) and :func:`read_pairs`; numeric feature tables
(:class:`TableData`): :func:`load_sklearn_table`, :func:`load_table`.
Interactions: :class:`Interactions`, :func:`read_interactions`, :class:`BPRSampler`.
pandas / pyarrow are imported only when reading files.
"""

from .arrays import load_npz
from .bpr import BPRSampler
from .caption_table import load_resized, read_image_captions
from .captions import CaptionSpec, generate_captions, rows_kept
from .fashion_mnist import fashion_mnist_captions, fashion_mnist_files, load_fashion_mnist
from .idx import load_idx, read_idx
from .image_captions import ImageCaptionData
from .image_folder import list_images, load_image_folder, read_image
from .images import ImageData, load_digits, to_image_tensor, train_test_split
from .interactions import Interactions, interactions_from_ids, leave_out_split, read_interactions
from .tables import read_pairs, read_table
from .tabular import TableData, load_sklearn_table, load_table
from .texts import TextData, load_texts

__all__ = [
    "BPRSampler",
    "CaptionSpec",
    "ImageCaptionData",
    "ImageData",
    "Interactions",
    "TableData",
    "TextData",
    "fashion_mnist_captions",
    "fashion_mnist_files",
    "generate_captions",
    "interactions_from_ids",
    "leave_out_split",
    "list_images",
    "load_digits",
    "load_fashion_mnist",
    "load_idx",
    "load_image_folder",
    "load_npz",
    "load_resized",
    "load_sklearn_table",
    "load_table",
    "load_texts",
    "read_idx",
    "read_image",
    "read_image_captions",
    "read_interactions",
    "read_pairs",
    "read_table",
    "rows_kept",
    "to_image_tensor",
    "train_test_split",
]
