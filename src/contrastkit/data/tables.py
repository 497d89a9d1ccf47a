"""Generic readers for jsonl / csv / parquet tables, and text-pair files (two text columns)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

TABLE_SUFFIXES = (".jsonl", ".csv", ".tsv", ".parquet")


def read_table(path: str | Path, columns: list[str] | None = None) -> dict[str, list]:
    """Read a table into ``{column: list of values}``. ``.jsonl`` holds one JSON object per line,
    ``.csv``/``.tsv`` a header row, ``.parquet`` is read with pyarrow. ``columns`` keeps only those
    (a missing one raises ``ValueError`` naming it and the available columns)."""
    path = Path(path)
    if path.is_dir() and (path / "dataset_dict.json").is_file():
        splits = sorted(p.name for p in path.iterdir() if (p / "state.json").is_file())
        raise ValueError(f"path: {path} holds the splits {splits}; point at one split's folder")
    if path.is_dir() and (path / "state.json").is_file():
        table = read_saved_dataset(path)
        suffix = None
    elif not path.is_file():
        raise ValueError(f"path: {path} does not exist")
    else:
        suffix = path.suffix.lower()
    if suffix is None:
        pass
    elif suffix == ".jsonl":
        table = _read_jsonl(path)
    elif suffix in (".csv", ".tsv"):
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
            rows = list(reader)
            table = {name: [row[name] for row in rows] for name in reader.fieldnames or []}
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=columns).to_pydict()
    else:
        raise ValueError(f"path: expected one of {TABLE_SUFFIXES}, got {path.name}")
    if columns is not None:
        missing = [c for c in columns if c not in table]
        if missing:
            raise ValueError(f"columns: {missing} not in {path.name} (columns: {list(table)})")
        table = {c: table[c] for c in columns}
    return table


def read_saved_dataset(path: Path) -> dict[str, list]:
    """A Hugging Face ``datasets`` folder written by ``Dataset.save_to_disk`` (one split: a folder with
    ``state.json``), as ``{column: list of values}``. Needs the optional ``datasets`` package."""
    try:
        import datasets
    except ImportError:
        raise ValueError(f"path: {path} is a Hugging Face datasets folder; reading it needs the "
                         "`datasets` package (pip install datasets)") from None
    return datasets.load_from_disk(str(path)).to_dict()


def _read_jsonl(path: Path) -> dict[str, list]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path.name}: line {number} is not valid JSON "
                                     f"({error.msg} at column {error.colno})") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{path.name}: line {number} is not a JSON object")
                rows.append(row)
    names = list(dict.fromkeys(k for row in rows for k in row))
    return {name: [row.get(name) for row in rows] for name in names}


def read_pairs(
    path: str | Path, first: str = "anchor", second: str = "positive"
) -> tuple[list[str], list[str]]:
    """Two text columns of a table, as two aligned lists of strings (row i of each is a positive
    pair); rows where either value is empty are rejected with their row number."""
    table = read_table(path, [first, second])
    for name in (first, second):
        for row, value in enumerate(table[name]):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name}: row {row} of {Path(path).name} is not a non-empty string")
    return table[first], table[second]
