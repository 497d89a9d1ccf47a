"""Text data sets for the trainer: one text column (and an optional label column) of a table."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .tables import read_table


@dataclass
class TextData:
    """``texts``: list of strings; ``labels``: ``(N,)`` int64 or ``None``; ``names``: row names.
    Follows the trainer's batch protocol like :class:`~contrastkit.data.ImageData`."""

    texts: list[str]
    labels: Tensor | None = None
    names: list[str] | None = None

    def __post_init__(self):
        for row, text in enumerate(self.texts):
            if not isinstance(text, str) or not text:
                raise ValueError(f"texts: row {row} is not a non-empty string")
        if self.labels is not None and tuple(self.labels.shape) != (len(self.texts),):
            raise ValueError(f"labels: expected shape ({len(self.texts)},), got {tuple(self.labels.shape)}")
        if self.names is None:
            self.names = [str(i) for i in range(len(self.texts))]

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def inputs(self) -> list[str]:
        return self.texts

    def batch(self, index: Tensor) -> tuple[list[str], Tensor | None]:
        rows = index.tolist()
        return [self.texts[i] for i in rows], None if self.labels is None else self.labels[index]

    def subset(self, index) -> TextData:
        index = torch.as_tensor(index, dtype=torch.long)
        labels = None if self.labels is None else self.labels[index]
        return TextData(
            [self.texts[i] for i in index.tolist()], labels, [self.names[i] for i in index.tolist()]
        )


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
