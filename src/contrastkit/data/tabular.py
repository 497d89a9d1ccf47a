"""Tables of numeric features with an optional label: scikit-learn's bundled tables and user files.

:class:`TableData` follows the trainer's batch protocol (``inputs``, ``labels``, ``batch``,
``subset``) with float32 ``(N, M)`` features. Standardisation is fitted on the training split only
(:meth:`TableData.standardize_splits`), so held-out rows never inform the scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .rows import LabelledRows
from .tables import read_table

SKLEARN_TABLES = ("breast_cancer", "wine", "iris")


@dataclass
class TableData(LabelledRows):
    """``features``: ``(N, M)`` float32, finite; ``labels``: ``(N,)`` int64 or ``None``; ``names``:
    one string per row; ``standardize``: whether :meth:`standardize_splits` rescales the columns."""

    features: Tensor
    labels: Tensor | None = None
    names: list[str] | None = None
    standardize: bool = True

    def __post_init__(self):
        if not isinstance(self.features, Tensor) or self.features.dim() != 2 or 0 in self.features.shape:
            got = tuple(self.features.shape) if isinstance(self.features, Tensor) else type(self.features)
            raise ValueError(f"features: expected a non-empty 2-D (rows, features) tensor, got {got}")
        if not bool(torch.isfinite(self.features).all()):
            raise ValueError("features: contains NaN or infinite values")
        self.check_labels_and_names()

    @property
    def inputs(self) -> Tensor:
        return self.features

    def subset(self, index) -> TableData:
        return TableData(*self.subset_fields(index), self.standardize)

    def rescaled(self, mean: Tensor, std: Tensor) -> TableData:
        return TableData((self.features - mean) / std, self.labels, self.names, self.standardize)

    @staticmethod
    def standardize_splits(train: TableData, test: TableData) -> tuple[TableData, TableData]:
        """Both splits with each column shifted and scaled by the *training* split's mean and
        standard deviation (a constant column keeps scale 1); unchanged if ``standardize`` is off."""
        if not train.standardize:
            return train, test
        mean = train.features.mean(dim=0)
        std = train.features.std(dim=0, unbiased=False)
        std = torch.where(std > 0, std, torch.ones_like(std))
        return train.rescaled(mean, std), test.rescaled(mean, std)


def label_codes(values: list) -> Tensor:
    """Labels of any values, numbered in sorted order of their string form."""
    strings = [str(v) for v in values]
    code = {value: i for i, value in enumerate(sorted(set(strings)))}
    return torch.tensor([code[v] for v in strings], dtype=torch.long)


def load_sklearn_table(dataset: str = "breast_cancer", standardize: bool = True) -> TableData:
    """One of scikit-learn's bundled tables (no download): ``breast_cancer`` (569 x 30, 2 classes),
    ``wine`` (178 x 13, 3 classes), ``iris`` (150 x 4, 3 classes)."""
    if dataset not in SKLEARN_TABLES:
        raise ValueError(f"dataset: expected one of {SKLEARN_TABLES}, got {dataset!r}")
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{dataset}")()
    features = torch.from_numpy(np.asarray(bunch.data, dtype=np.float32))
    return TableData(features, torch.from_numpy(bunch.target.astype(np.int64)), standardize=standardize)


def load_table(path, label_column: str | None = None, feature_columns: list[str] | None = None,
               standardize: bool = True) -> TableData:
    """Numeric feature columns of a jsonl / csv / parquet file (every column but ``label_column``
    unless ``feature_columns`` names them) and labels from ``label_column`` (any values)."""
    table = read_table(path)
    if label_column is not None and label_column not in table:
        raise ValueError(f"label_column: {label_column!r} not in {path} (columns: {list(table)})")
    names = feature_columns if feature_columns is not None else [c for c in table if c != label_column]
    missing = [c for c in names if c not in table]
    if missing or not names:
        raise ValueError(f"feature_columns: {missing or 'none'} not in {path} (columns: {list(table)})")
    columns = []
    for name in names:
        try:
            columns.append(np.asarray(table[name], dtype=np.float32))
        except (TypeError, ValueError):
            raise ValueError(f"feature_columns: column {name!r} of {path} is not numeric") from None
    labels = None if label_column is None else label_codes(table[label_column])
    return TableData(torch.from_numpy(np.stack(columns, axis=1)), labels, standardize=standardize)
