"""Text pairs with named fields: ``anchor``, ``positive``, optional ``negatives``, ``group``, ``label``.

One row is one training example of a pairs fine-tune (query -> passage, title -> review, one
translation -> another). ``group`` ids mark rows whose positives are interchangeable (rows with the
same title, the same question): a loss masks them as false negatives and retrieval counts every
positive of the query's group as relevant. :func:`split_pairs` holds out whole groups, deterministically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

FIELDS = ("anchor", "positive", "negatives", "group", "label")


@dataclass
class TextPairs:
    """Rows of (``anchor``, ``positive``[, ``negatives``]) texts, with ``group`` ids and ``label`` names.

    Raises:
        ValueError: naming the field and row, for an empty or non-string text, a ``negatives`` cell that
            is not a list of non-empty strings, or fields of different lengths.
    """

    anchor: list[str]
    positive: list[str]
    negatives: list[list[str]] | None = None
    group: list[int] | None = None
    label: list[str] | None = None
    source: str = field(default="pairs", compare=False)

    def __post_init__(self):
        n = len(self.anchor)
        for name in FIELDS:
            values = getattr(self, name)
            if values is not None and len(values) != n:
                raise ValueError(f"{name}: expected {n} rows (one per anchor), got {len(values)}")
        for name in ("anchor", "positive"):
            for row, text in enumerate(getattr(self, name)):
                if not isinstance(text, str) or not text.strip():
                    raise ValueError(f"{name}: row {row} is missing or empty (expected a non-empty text)")
        for row, cell in enumerate(self.negatives or []):
            if not isinstance(cell, list) or not all(isinstance(t, str) and t.strip() for t in cell):
                raise ValueError(f"negatives: row {row} is not a list of non-empty strings, got {cell!r:.80}")
        if self.group is None:
            self.group = list(range(n))

    def __len__(self) -> int:
        return len(self.anchor)

    def subset(self, index) -> TextPairs:
        rows = [int(i) for i in index]

        def pick(values):
            return None if values is None else [values[i] for i in rows]

        return TextPairs(pick(self.anchor), pick(self.positive), pick(self.negatives), pick(self.group),
                         pick(self.label), self.source)

    def fields(self) -> dict[str, list]:
        """The named fields present (``group`` always)."""
        return {name: getattr(self, name) for name in FIELDS if getattr(self, name) is not None}

    def relevant(self) -> tuple[list[str], list[set[int]]]:
        """Retrieval queries (distinct anchors, first-seen order) and, for each, the indices of the
        positives (rows of this split) sharing its group: query = anchor, corpus = every positive."""
        by_group: dict[int, set[int]] = {}
        for row, g in enumerate(self.group):
            by_group.setdefault(g, set()).add(row)
        queries, relevant, seen = [], [], set()
        for row, text in enumerate(self.anchor):
            if text not in seen:
                seen.add(text)
                queries.append(text)
                relevant.append(by_group[self.group[row]])
        return queries, relevant


def split_pairs(pairs: TextPairs, validation: int, test: int, seed: int = 0) -> dict[str, TextPairs]:
    """``{"train", "validation", "test"}``: whole groups, in a seeded random order, go to test until it
    holds ``>= test`` rows, then to validation; the rest is train. Same inputs, same split."""
    for name, size in (("validation", validation), ("test", test)):
        if int(size) != size or size < 0:
            raise ValueError(f"{name}: expected a non-negative number of rows, got {size!r}")
    if validation + test >= len(pairs):
        raise ValueError(f"validation + test: {validation + test} rows leave none of {len(pairs)} to train")
    members: dict[int, list[int]] = {}
    for row, g in enumerate(pairs.group):
        members.setdefault(g, []).append(row)
    groups = list(members)
    order = torch.randperm(len(groups), generator=torch.Generator().manual_seed(seed)).tolist()
    parts: dict[str, list[int]] = {"test": [], "validation": [], "train": []}
    for i in order:
        rows = members[groups[i]]
        if len(parts["test"]) < test:
            parts["test"] += rows
        elif len(parts["validation"]) < validation:
            parts["validation"] += rows
        else:
            parts["train"] += rows
    return {name: pairs.subset(sorted(rows)) for name, rows in parts.items()}


def load_text_pairs(path, anchor: str = "anchor", positive: str = "positive", negatives: str | None = None,
                    group: str | None = None, label: str | None = None) -> TextPairs:
    """Read pairs from a jsonl / csv / parquet file; ``negatives`` cells are lists (JSON text in a csv).
    Group values of any type are numbered in first-seen order."""
    from .tables import read_table

    columns = {"anchor": anchor, "positive": positive, "negatives": negatives, "group": group, "label": label}
    wanted = [c for c in columns.values() if c is not None]
    table = read_table(path, wanted)
    if not table[anchor]:
        raise ValueError(f"path: {Path(path).name} has no rows")
    negative_cells = None
    if negatives is not None:
        negative_cells = [_as_list(cell, row) for row, cell in enumerate(table[negatives])]
    group_ids = None
    if group is not None:
        code: dict = {}
        group_ids = [code.setdefault(str(value), len(code)) for value in table[group]]
    return TextPairs([_text(v) for v in table[anchor]], [_text(v) for v in table[positive]], negative_cells,
                     group_ids, None if label is None else [str(v) for v in table[label]], Path(path).name)


def _text(value) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def _as_list(cell, row: int):
    if isinstance(cell, str):
        try:
            cell = json.loads(cell)
        except json.JSONDecodeError as err:
            raise ValueError(f"negatives: row {row} is not a JSON list of strings") from err
    if hasattr(cell, "tolist"):
        cell = cell.tolist()
    return cell
