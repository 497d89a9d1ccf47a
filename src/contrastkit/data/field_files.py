"""Rows with named fields read from a jsonl / csv / tsv / parquet file (see :mod:`.fields`).

``[data.fields]`` maps each field to a column, e.g. ``anchor = "question"``, ``positive = "answer"``,
``negatives = "hard_negatives"``. Every problem is found before training and named by field,
column and row: a missing column, a ``negatives`` cell that is not a list (in csv / tsv a cell
holds a JSON list), an empty text, an image path that does not exist (paths are relative to the
file's folder). Parquet is converted once and read by row (:mod:`.arrow_files`): only the batch's
rows are read.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .arrow_files import ArrowRows, parquet_columns, parquet_rows, text_table
from .fields import KNOWN_FIELDS
from .tables import read_table

IMAGE_FIELDS = ("image",)


class FieldTable:
    """Args:
        table: a ``pyarrow.Table`` holding one column per field (renamed to the field names).
        rows: the table rows of this data set (a split), ``None`` = all.
        folder: the folder image paths are relative to.
        image_size, channels: how image fields are read (``(H, W)``; 1 grey or 3 RGB).
    """

    def __init__(self, table, rows=None, *, folder: Path = Path("."), image_size=(32, 32), channels=3,
                 codes: dict | None = None):
        self.table, self.folder = table, Path(folder)
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self.image_size, self.channels = tuple(image_size), channels
        self.codes = codes if codes is not None else _integer_codes(table)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.table.column_names)

    @property
    def labels(self) -> torch.Tensor | None:
        """Class codes of the ``label`` field (``None`` without one), for evaluation."""
        if "label" not in self.codes:
            return None
        codes = self.codes["label"]
        return torch.from_numpy(codes if self.rows is None else codes[self.rows])

    def __len__(self) -> int:
        return self.table.num_rows if self.rows is None else len(self.rows)

    def subset(self, index) -> FieldTable:
        index = np.asarray(torch.as_tensor(index, dtype=torch.long))
        rows = index if self.rows is None else self.rows[index]
        return FieldTable(self.table, rows, folder=self.folder, image_size=self.image_size,
                          channels=self.channels, codes=self.codes)

    def column(self, field: str, index=None) -> list:
        """The values of ``field`` for ``index`` (all rows of this data set by default)."""
        index = np.arange(len(self)) if index is None else np.asarray(index, dtype=np.int64)
        rows = index if self.rows is None else self.rows[index]
        return self._take(field, rows)

    def _take(self, field: str, rows: np.ndarray) -> list:
        """``rows`` of a column, gathered chunk by chunk (never concatenating the column)."""
        import pyarrow as pa

        if isinstance(self.table, ArrowRows):  # a converted parquet file, read by row
            return self.table.take(field, rows)
        column = self.table.column(field)
        if column.num_chunks == 1:
            return column.chunk(0).take(pa.array(rows)).to_pylist()
        starts = np.cumsum([0] + [len(c) for c in column.chunks])
        chunk_of = np.searchsorted(starts, rows, side="right") - 1
        out = [None] * len(rows)
        for chunk in np.unique(chunk_of):
            where = np.nonzero(chunk_of == chunk)[0]
            values = column.chunk(int(chunk)).take(pa.array(rows[where] - starts[chunk])).to_pylist()
            for position, value in zip(where.tolist(), values):
                out[position] = value
        return out

    def batch(self, index) -> dict:
        index = np.asarray(torch.as_tensor(index, dtype=torch.long))
        rows = index if self.rows is None else self.rows[index]
        out = {}
        for field in self.fields:
            if field in self.codes:
                out[field] = torch.from_numpy(self.codes[field][rows])
            elif field == "score":
                out[field] = torch.tensor(self._take(field, rows), dtype=torch.float32)
            else:
                values = self._take(field, rows)
                out[field] = self.read_images(values) if field in IMAGE_FIELDS else values
        return out

    def read_images(self, paths: list[str]) -> torch.Tensor:
        from .image_folder import read_image

        arrays = [read_image(self.folder / p, self.image_size, self.channels) for p in paths]
        return torch.from_numpy(np.stack(arrays))


def _integer_codes(table) -> dict[str, np.ndarray]:
    """``label`` and ``group`` as int64 codes (equal values, equal codes; in sorted order of the
    values' text), from Arrow's dictionary encoding: no Python object per row."""
    codes = {}
    for field in ("label", "group"):
        if field in table.column_names:
            encoded = table.column(field).dictionary_encode().combine_chunks()
            values = encoded.dictionary.to_pylist()
            rank = np.empty(len(values), dtype=np.int64)
            rank[sorted(range(len(values)), key=lambda i: str(values[i]))] = np.arange(len(values))
            codes[field] = rank[np.asarray(encoded.indices, dtype=np.int64)]
    return codes


def read_fields(path, fields: dict[str, str], *, image_size=(32, 32), channels: int = 3) -> FieldTable:
    """Read the columns named in ``fields`` (``{field: column}``) of a jsonl / csv / tsv / parquet file,
    or of a Hugging Face ``datasets`` folder written by ``save_to_disk`` (one split)."""
    path = Path(path)
    if not fields:
        raise ValueError("data.fields: expected a table mapping fields to columns, e.g. anchor = 'question'")
    for field, column in fields.items():
        if not isinstance(column, str) or not column:
            raise ValueError(f"data.fields.{field} = {column!r}: expected a column name")
        if field not in KNOWN_FIELDS and not field.isidentifier():
            raise ValueError(f"data.fields.{field}: expected a field name such as {list(KNOWN_FIELDS)}")
    if path.suffix.lower() == ".parquet":
        available = parquet_columns(path)
        _check_columns(path, fields, available)
        table = parquet_rows(path, fields)
        _check_parquet(path, table)
    else:
        raw = read_table(path)
        _check_columns(path, fields, list(raw))
        values = {field: _check_values(path, field, column, raw[column]) for field, column in fields.items()}
        table = text_table(values)
    data = FieldTable(table, folder=path.parent, image_size=image_size, channels=channels)
    for field in IMAGE_FIELDS:
        if field in data.fields:
            for row, value in enumerate(data.column(field)):
                if not isinstance(value, str) or not (path.parent / value).is_file():
                    raise ValueError(f"data.fields.{field} = {fields[field]!r}: row {row} of {path.name}: "
                                     f"image file {value!r} does not exist (paths are relative to "
                                     f"{path.parent})")
    return data


def _check_columns(path: Path, fields: dict[str, str], available: list[str]) -> None:
    for field, column in fields.items():
        if column not in available:
            raise ValueError(f"data.fields.{field} = {column!r}: no such column in {path.name} "
                             f"(columns: {available})")


def _check_values(path: Path, field: str, column: str, values: list) -> list:
    where = f"data.fields.{field} = {column!r}"
    if field == "negatives":
        out = []
        for row, value in enumerate(values):
            if isinstance(value, str) and path.suffix.lower() in (".csv", ".tsv"):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError:
                    value = None
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ValueError(f"{where}: row {row} of {path.name} is not a list of non-empty strings "
                                 f"(got {str(value)[:60]!r})")
            out.append(value)
        return out
    if field in ("label", "group"):
        for row, value in enumerate(values):
            if value is None or value == "":
                raise ValueError(f"{where}: row {row} of {path.name} is empty")
        return [str(v) for v in values]
    if field == "score":
        try:
            return [float(v) for v in values]
        except (TypeError, ValueError):
            raise ValueError(f"{where}: expected numbers in every row of {path.name}") from None
    for row, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{where}: row {row} of {path.name} is not a non-empty string")
    return values


def _check_parquet(path: Path, table) -> None:
    import pyarrow as pa

    for field in table.column_names:
        kind = table.schema[field]
        if field == "negatives" and not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
            raise ValueError(f"data.fields.negatives: column of {path.name} has type {kind}, "
                             "expected a list of strings per row")
        if table.null_counts[field]:
            raise ValueError(f"data.fields.{field}: {table.null_counts[field]} empty (null) cells in "
                             f"{path.name}")
