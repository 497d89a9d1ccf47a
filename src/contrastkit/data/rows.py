"""The trainer's batch protocol for the single-input data sets (images, tables, texts).

Each is an instance of the field protocol of :mod:`contrastkit.data.fields`: its one input is the
``anchor`` field and its labels (when present) the ``label`` field.
"""

from __future__ import annotations

import torch
from torch import Tensor


class LabelledRows:
    """Mixin for a data set of ``N`` rows: ``inputs`` (a tensor or a list, one entry per row),
    optional integer ``labels`` ``(N,)`` and ``names`` (one string per row, default the row index).

    Subclasses are dataclasses with ``labels`` and ``names`` fields and an ``inputs`` property;
    they call :meth:`check_labels_and_names` at the end of ``__post_init__``.
    """

    labels: Tensor | None
    names: list[str] | None

    @property
    def inputs(self):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def check_labels_and_names(self) -> None:
        n = len(self)
        if self.labels is not None and tuple(self.labels.shape) != (n,):
            raise ValueError(f"labels: expected shape ({n},), got {tuple(self.labels.shape)}")
        if self.names is None:
            self.names = [str(i) for i in range(n)]
        elif len(self.names) != n:
            raise ValueError(f"names: expected {n} names, got {len(self.names)}")

    def __len__(self) -> int:
        return len(self.inputs)

    def take(self, index: Tensor):
        """The inputs of the rows in ``index``, in the container type of ``inputs``."""
        if isinstance(self.inputs, Tensor):
            return self.inputs[index]
        return [self.inputs[i] for i in index.tolist()]

    @property
    def fields(self) -> tuple[str, ...]:
        """The named fields :meth:`batch` yields: ``anchor`` (+ ``label``)."""
        return ("anchor",) if self.labels is None else ("anchor", "label")

    def batch(self, index: Tensor) -> dict:
        """``{"anchor": inputs[index], "label": labels[index]}`` (no ``label`` without labels)."""
        out = {"anchor": self.take(index)}
        if self.labels is not None:
            out["label"] = self.labels[index]
        return out

    def subset_fields(self, index) -> tuple:
        """``(inputs, labels, names)`` of the rows in ``index``, to build a subset."""
        index = torch.as_tensor(index, dtype=torch.long)
        labels = None if self.labels is None else self.labels[index]
        return self.take(index), labels, [self.names[i] for i in index.tolist()]
