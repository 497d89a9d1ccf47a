"""Evaluation on held-out rows of a fields data set: retrieval of each row's ``positive`` from its
``anchor`` among all held-out positives, alignment of the held-out positive pairs, uniformity.

Uses :class:`contrastkit.evaluate.RetrievalEvaluator` and :func:`contrastkit.evaluate.alignment`
on the embeddings of each field's own tower.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import evaluate


def default_pair(fields) -> tuple[str, str] | None:
    """The held-out pair to evaluate: (anchor, positive), else (text, image), else the first two
    encoded fields (``None`` when there are fewer than two)."""
    from ..data.fields import encoded_fields

    encoded = [f for f in encoded_fields(fields) if f != "negatives"]
    for query, key in (("anchor", "positive"), ("text", "image")):
        if query in encoded and key in encoded:
            return query, key
    return (encoded[0], encoded[1]) if len(encoded) >= 2 else None


class PairEvaluator:
    """Args:
        data: held-out rows (the field protocol) with two encoded fields ``query`` and ``key``.
        query, key: the field names (default ``anchor`` and ``positive``).
        max_samples: first N rows only.
    Calling it with an embedding function (``for_pair(query, key)`` picks the fields' towers) returns
    ``{"retrieval/recall@1": ..., "alignment": ..., "uniformity": ...}``.
    """

    lower_is_better = ("alignment", "uniformity")

    def __init__(self, data, query: str = "anchor", key: str = "positive", max_samples: int = 2000,
                 tasks=()):
        for field in (query, key):
            if field not in data.fields:
                raise ValueError(f"eval: the held-out data has no field {field!r} "
                                 f"(fields: {list(data.fields)})")
        self.query, self.key, self.tasks = query, key, list(tasks)
        by_group = getattr(data, "retrieval_rows", None)  # pairs with groups: their own relevance
        if by_group is not None and (query, key) == ("anchor", "positive"):
            self.queries, self.corpus, relevant, paired = by_group(max_samples)
            position = {text: i for i, text in enumerate(self.queries)}
            # each row's anchor is one of the distinct queries: their embeddings are reused
            self.paired = torch.tensor([position[text] for text in paired], dtype=torch.long)
        else:
            rows = torch.arange(min(max_samples, len(data)))
            batch = data.batch(rows)
            self.queries, self.corpus = batch[query], batch[key]
            relevant = [[i] for i in range(len(rows))]
            self.paired = None  # the queries are the corpus' own rows
        ks = [k for k in (1, 10) if k <= len(self.corpus)]
        self.retrieval = evaluate.RetrievalEvaluator(self.queries, self.corpus, relevant, ks=ks)

    def embed(self, embed_fn):
        pick = getattr(embed_fn, "for_pair", None)
        query_fn, key_fn = pick(self.query, self.key) if pick else (embed_fn, embed_fn)
        return query_fn(self.queries), key_fn(self.corpus)

    def paired_queries(self, q):
        """The query embeddings row by row with the corpus (the distinct queries' rows, repeated)."""
        return q if self.paired is None else q[self.paired]

    def __call__(self, embed_fn, metrics=None) -> dict[str, float]:
        return self.evaluate_with_analysis(embed_fn)[0]

    def evaluate_with_analysis(self, embed_fn) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """``(metrics, analysis arrays)`` from one embedding of the queries and the corpus (the end of
        a run needs both; embedding the held-out texts twice was most of its cost)."""
        q, k = self.embed(embed_fn)
        results = self.retrieval.evaluate_embeddings(q, k)
        q = self.paired_queries(q)
        if q.shape[1] == k.shape[1]:
            results["alignment"] = evaluate.alignment(q, k)
        results["uniformity"] = evaluate.uniformity(k)
        for task in self.tasks:
            results.update(task(embed_fn))
        return results, {"embeddings": k.numpy(), "view1": q.numpy(), "view2": k.numpy()}

    def analysis(self, embed_fn) -> dict[str, np.ndarray]:
        return self.evaluate_with_analysis(embed_fn)[1]
