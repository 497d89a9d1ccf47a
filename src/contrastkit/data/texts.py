"""Text data sets for the trainer: one text column (and an optional label column) of a table."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .rows import LabelledRows
from .tables import read_table


@dataclass
class TextData(LabelledRows):
    """``texts``: list of strings; ``labels``: ``(N,)`` int64 or ``None``; ``names``: row names.
    Follows the trainer's batch protocol like :class:`~contrastkit.data.ImageData`."""

    texts: list[str]
    labels: Tensor | None = None
    names: list[str] | None = None

    def __post_init__(self):
        for row, text in enumerate(self.texts):
            if not isinstance(text, str) or not text:
                raise ValueError(f"texts: row {row} is not a non-empty string")
        self.check_labels_and_names()

    @property
    def inputs(self) -> list[str]:
        return self.texts

    def subset(self, index) -> TextData:
        return TextData(*self.subset_fields(index))


def load_texts(path, column: str = "text", label_column: str | None = None) -> TextData:
    """Texts of ``column`` of a jsonl / csv / parquet file; labels (any values, numbered in sorted
    order) from ``label_column``."""
    columns = [column] if label_column is None else [column, label_column]
    table = read_table(path, columns)
    labels = None
    if label_column is not None:
        values = [str(v) for v in table[label_column]]
        code = {value: i for i, value in enumerate(sorted(set(values)))}
        labels = torch.tensor([code[v] for v in values], dtype=torch.long)
    return TextData(list(table[column]), labels)
