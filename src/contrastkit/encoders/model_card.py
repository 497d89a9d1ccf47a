"""The README.md (model card) of a saved text encoder: base model, data, loss, steps, measured table."""

from __future__ import annotations

import math
from collections.abc import Mapping


def model_card(*, base_model: str, data: str, loss: str, steps: int,
               metrics: Mapping[str, Mapping[str, float]], notes: str = "") -> str:
    """Markdown for a fine-tuned encoder's folder.

    Args:
        base_model: the folder or name of the model training started from.
        data: what the pairs were (name, size, split).
        loss: the objective and its settings, e.g. ``"InfoNCE(temperature=0.05, symmetric=False)"``.
        steps: optimizer steps taken.
        metrics: one row per model (e.g. ``{"base model": {...}, "fine-tuned": {...}}``), each a dict
            metric name -> value; the columns are the union of the metric names, in first-seen order.
        notes: a closing paragraph (how it was measured).
    Raises:
        ValueError: ``steps`` negative, or a metric value that is not a finite number.
    """
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps: expected a non-negative integer, got {steps!r}")
    columns: list[str] = []
    for row in metrics.values():
        columns += [name for name in row if name not in columns]
    lines = ["---", "library_name: sentence-transformers", "tags: [sentence-transformers, contrastkit]",
             "---", "", "# Fine-tuned sentence encoder", "",
             "Loads with `sentence_transformers.SentenceTransformer(FOLDER)` and with contrastkit "
             "(`TextEncoder.load(FOLDER)`, `contrastkit embed`); both give the same embeddings.", "",
             f"- base model: `{base_model}`", f"- data: {data}", f"- loss: {loss}",
             f"- steps: {int(steps)}", ""]
    if columns:
        lines += ["| model | " + " | ".join(columns) + " |", "| --- |" + " ---: |" * len(columns)]
        for name, row in metrics.items():
            cells = []
            for column in columns:
                value = row.get(column)
                if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
                    raise ValueError(f"metrics[{name!r}][{column!r}]: expected a finite number, "
                                     f"got {value!r}")
                cells.append("" if value is None else f"{value:.4f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    if notes:
        lines += [notes, ""]
    return "\n".join(lines)
