r"""Few-shot classification by contrastive fine-tuning (SetFit: Tunstall et al., 2022, arXiv:2209.11055).

Three pieces, used by the ``text-fewshot`` recipe and ``benchmarks/text_fewshot.py``:

1. :func:`sample_per_class`: ``k`` labelled examples per class, seeded;
2. :func:`label_pairs`: (anchor, positive) index pairs of the same label, every example an anchor
   ``pairs_per_example`` times; trained with in-batch InfoNCE where ``labels`` makes every same-label key
   a positive, so the in-batch different-label pairs are the negatives (SetFit's positive / negative pairs,
   written as a contrastive objective instead of its cosine-similarity regression);
3. :class:`LogisticHead`: multinomial logistic regression on the ``k`` examples' embeddings, the same head
   for the base and the fine-tuned encoder, saved as JSON for ``contrastkit predict``;
4. :class:`FewShotEvaluator`: that head fitted on the ``k`` examples, scored on held-out texts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ._checks import check_positive_int
from ._evaluator import Evaluator


def _members(labels: Sequence) -> dict:
    members: dict = {}
    for i, label in enumerate(labels):
        members.setdefault(label, []).append(i)
    return members


def sample_per_class(labels: Sequence, k: int, seed: int = 0) -> list[int]:
    """Indices of ``k`` rows of each label (seeded, sorted). Raises ``ValueError`` naming the smallest
    class when ``k`` exceeds its size."""
    check_positive_int("k", k)
    members = _members(labels)
    smallest = min(members, key=lambda label: len(members[label]))
    if k > len(members[smallest]):
        size = len(members[smallest])
        raise ValueError(f"k: {k} is larger than the smallest class ({smallest!r}: {size} rows)")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in sorted(members, key=str):
        rows = members[label]
        chosen += [rows[i] for i in torch.randperm(len(rows), generator=generator)[:k].tolist()]
    return sorted(chosen)


def label_pairs(labels: Sequence, pairs_per_example: int = 4, seed: int = 0) -> list[tuple[int, int]]:
    """``(anchor, positive)`` positions into ``labels``: each example ``pairs_per_example`` times with a
    different same-label partner each time (cycling), in a seeded shuffled order."""
    check_positive_int("pairs_per_example", pairs_per_example)
    members = _members(labels)
    if any(len(rows) < 2 for rows in members.values()):
        raise ValueError("labels: every class needs at least 2 examples to form a same-label pair")
    generator = torch.Generator().manual_seed(seed)
    pairs = []
    for rows in members.values():
        for i in rows:
            others = [j for j in rows if j != i]
            start = int(torch.randint(len(others), (1,), generator=generator))
            pairs += [(i, others[(start + r) % len(others)]) for r in range(pairs_per_example)]
    order = torch.randperm(len(pairs), generator=generator).tolist()
    return [pairs[i] for i in order]


class LogisticHead:
    """Multinomial logistic regression (scikit-learn, L2, ``C``) on L2-normalised embeddings."""

    def __init__(self, C: float = 1.0):
        self.C = float(C)
        self.classes: list[str] = []
        self.coef = np.zeros((0, 0))
        self.intercept = np.zeros(0)

    def fit(self, embeddings, labels: Sequence) -> LogisticHead:
        from sklearn.linear_model import LogisticRegression

        x = _unit(embeddings)
        model = LogisticRegression(C=self.C, max_iter=2000).fit(x, [str(v) for v in labels])
        self.classes = [str(c) for c in model.classes_]
        coef, intercept = model.coef_, model.intercept_
        if len(self.classes) == 2:  # scikit-learn stores one row for two classes: expand to softmax form
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-1.0, 1.0]) * intercept[0] / 2
        self.coef, self.intercept = coef, intercept
        return self

    def probabilities(self, embeddings) -> np.ndarray:
        """``(N, classes)`` softmax probabilities, columns in :attr:`classes` order."""
        if not self.classes:
            raise ValueError("head: not fitted (call fit or load first)")
        logits = _unit(embeddings) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, embeddings) -> list[str]:
        return [self.classes[i] for i in self.probabilities(embeddings).argmax(axis=1)]

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps({"classes": self.classes, "coef": self.coef.tolist(),
                                          "intercept": self.intercept.tolist(), "C": self.C}))

    @classmethod
    def load(cls, path: str | os.PathLike) -> LogisticHead:
        data = json.loads(Path(path).read_text())
        head = cls(data.get("C", 1.0))
        head.classes, head.coef = data["classes"], np.array(data["coef"], dtype=np.float64)
        head.intercept = np.array(data["intercept"], dtype=np.float64)
        n = len(head.classes)
        if head.coef.ndim != 2 or head.coef.shape[0] != n or head.intercept.shape != (n,):
            raise ValueError(f"head: {path} does not hold one weight row and bias per class")
        return head


class FewShotEvaluator(Evaluator):
    """Test accuracy of a :class:`LogisticHead` fitted on the embeddings of the few labelled
    ``support`` texts (the same head for any encoder: base or fine-tuned).

    Args:
        support_texts, support_labels: the ``k`` examples per class (labels: class names).
        test_texts, test_labels: the held-out texts.
        C: the head's inverse L2 strength.
        curve_samples: a periodic call (``metrics`` given: the training curves) scores only the first
            ``curve_samples`` test texts; the final table scores all.
        tasks: further evaluators whose metrics are added.
    Returns ``{"fewshot/accuracy", "fewshot/balanced_accuracy"}`` (mean recall over the classes).
    """

    def __init__(self, support_texts: Sequence[str], support_labels: Sequence, test_texts: Sequence[str],
                 test_labels: Sequence, C: float = 1.0, curve_samples: int = 200, tasks=(),
                 name: str = "fewshot"):
        super().__init__(name, "accuracy", batch_size=64)
        if len(support_texts) != len(support_labels) or len(test_texts) != len(test_labels):
            raise ValueError("labels: expected one label per text (support and test)")
        self.inputs = (list(support_texts), list(test_texts))
        self.support_labels = [str(v) for v in support_labels]
        self.test_labels = [str(v) for v in test_labels]
        self.C, self.curve_samples = float(C), check_positive_int("curve_samples", curve_samples)
        self.tasks = list(tasks)

    def metrics(self, support, test) -> dict[str, float]:
        head = LogisticHead(self.C).fit(support, self.support_labels)
        truth = self.test_labels[:len(test)]
        hits = np.array([p == y for p, y in zip(head.predict(test), truth)])
        recalls = [hits[[y == c for y in truth]].mean() for c in sorted(set(truth))]
        return {"accuracy": hits.mean(), "balanced_accuracy": float(np.mean(recalls))}

    def __call__(self, embed_fn, metrics=None) -> dict[str, float]:
        if metrics is not None:  # a point of the training curve: fewer test texts
            support = self.embed(embed_fn, self.inputs[0])
            test = self.embed(embed_fn, self.inputs[1][:self.curve_samples])
            return {f"{self.name}/{k}": float(v) for k, v in self.metrics(support, test).items()}
        return self.evaluate_with_analysis(embed_fn)[0]

    def evaluate_with_analysis(self, embed_fn) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """``(metrics, {"embeddings", "labels"} of the test texts)`` from one embedding pass."""
        with torch.no_grad():
            support, test = (self.embed(embed_fn, inputs) for inputs in self.inputs)
        results = self.evaluate_embeddings(support, test)
        for task in self.tasks:
            results.update(task(embed_fn))
        return results, {"embeddings": test.cpu().numpy(), "labels": np.asarray(self.test_labels)}

    def analysis(self, embed_fn) -> dict[str, np.ndarray]:
        return self.evaluate_with_analysis(embed_fn)[1]

    def fit_head(self, embed_fn) -> LogisticHead:
        """The head on ``embed_fn``'s support embeddings (the one ``contrastkit predict`` uses)."""
        with torch.no_grad():
            return LogisticHead(self.C).fit(self.embed(embed_fn, self.inputs[0]), self.support_labels)


def _unit(embeddings) -> np.ndarray:
    x = embeddings.detach().cpu().numpy() if isinstance(embeddings, torch.Tensor) else np.asarray(embeddings)
    x = x.astype(np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
