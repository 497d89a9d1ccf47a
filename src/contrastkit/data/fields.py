"""Named fields: the one data protocol the trainer reads.

A data set for training is any object with

* ``len(data)``: the number of rows;
* ``data.fields``: the names of the fields it yields, e.g. ``("anchor", "positive", "negatives")``;
* ``data.batch(indices) -> dict[field, value]``: the rows ``indices`` (a 1-D int64 tensor), one
  value per field: a tensor whose first axis is the rows, or a list with one entry per row.

Field names with a meaning to the trainer (any other name is allowed and simply encoded):

``anchor``, ``positive``: inputs (texts, images, feature rows) encoded by a tower.
``negatives``: a list per row (any length >= 0) of inputs; all rows' negatives are encoded together
    and every query is scored against all of them (in-batch shared hard negatives).
``label``: integer class per row (supervised losses, kNN / probe evaluation).
``group``: sample / source id per row; rows of one group are never each other's negatives (it reaches
    the loss as ``ids``).
``score``: graded relevance per row (float).
``image``, ``text``: modality fields of image-text data (an image path column or a tensor; a string).

The single-input data sets (digits, IDX, image folders, tables, texts) are instances with the one
field ``anchor`` (+ ``label``).
"""

from __future__ import annotations

ENCODED_FIELDS = ("anchor", "positive", "negatives", "image", "text")
RAW_FIELDS = ("label", "group", "score")
KNOWN_FIELDS = ENCODED_FIELDS + RAW_FIELDS


def data_fields(data) -> tuple[str, ...]:
    """``data.fields``, checked to be a non-empty tuple of names."""
    fields = getattr(data, "fields", None)
    if not fields or not all(isinstance(f, str) and f for f in fields):
        raise ValueError(
            f"data: {type(data).__name__} does not follow the field protocol (expected a non-empty "
            "`fields` tuple of names and `batch(indices) -> dict`)"
        )
    return tuple(fields)


def encoded_fields(fields) -> list[str]:
    """The fields a tower encodes: every field except the raw ones (label, group, score)."""
    return [f for f in fields if f not in RAW_FIELDS]
