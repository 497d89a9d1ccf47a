"""Readers for user data and the bundled offline data sets, splits and samplers.

Images (:class:`ImageData`, float ``(N, C, H, W)`` in [0, 1]): :func:`load_digits` (scikit-learn),
:func:`load_idx` / :func:`read_idx` (MNIST-format, ``.gz`` too), :func:`load_npz`,
:func:`load_image_folder`. Texts: :class:`TextData`, :func:`load_texts`.
Tables: :func:`read_table` (jsonl / csv / parquet) and :func:`read_pairs`; numeric feature tables
(:class:`TableData`): :func:`load_sklearn_table`, :func:`load_table`.
Interactions: :class:`Interactions`, :func:`read_interactions`, :class:`BPRSampler`.
pandas / pyarrow are imported only when reading files.
"""

from .arrays import load_npz
from .bpr import BPRSampler
from .idx import load_idx, read_idx
from .image_folder import list_images, load_image_folder, read_image
from .images import ImageData, load_digits, to_image_tensor, train_test_split
from .interactions import Interactions, interactions_from_ids, leave_out_split, read_interactions
from .tables import read_pairs, read_table
from .tabular import TableData, load_sklearn_table, load_table
from .texts import TextData, load_texts

__all__ = [
    "BPRSampler",
    "ImageData",
    "Interactions",
    "TableData",
    "TextData",
    "interactions_from_ids",
    "leave_out_split",
    "list_images",
    "load_digits",
    "load_idx",
    "load_image_folder",
    "load_npz",
    "load_sklearn_table",
    "load_table",
    "load_texts",
    "read_idx",
    "read_image",
    "read_interactions",
    "read_pairs",
    "read_table",
    "to_image_tensor",
    "train_test_split",
]
