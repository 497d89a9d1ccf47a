r"""Retrieval metrics: queries against a corpus, cosine similarity, exact search by default."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ._checks import as_embeddings, check_ks, check_same_dim
from ._ranking import ranking_metrics
from ._search import check_backend, top_k


def retrieval_metrics(queries, corpus, relevant: Sequence, ks: Sequence[int] = (1, 10), *,
                      chunk_size: int | None = None, backend: str = "exact") -> dict[str, float]:
    r"""Recall@k, MRR@k, nDCG@k and MAP@k of cosine-similarity retrieval, averaged over queries.

    The corpus is ranked for each query by :math:`\langle\hat q, \hat c_j\rangle`, ties broken by
    the lower corpus index; the formulas are in :mod:`contrastkit.evaluate._ranking` (linear-gain
    nDCG, MAP@k normalised by ``min(k, |R|)``). Exact search streams ``chunk_size`` queries at a
    time (no ``Q x M`` matrix); ``backend="faiss"`` uses an exact ``faiss.IndexFlatIP`` and gives
    the same results up to the choice among items tied at the cut-off.

    Args:
        queries: ``(Q, d)``; corpus: ``(M, d)``; tensors (any device) or arrays.
        relevant: ``Q`` entries; ``relevant[i]`` is a set (list, tuple) of corpus indices, each of
            grade 1, or a dict index -> graded relevance ``>= 0`` (grade 0 = not relevant). Every
            query needs at least one item of grade ``> 0``.
        ks: cut-offs, each ``<= M``.
    Returns:
        ``{"recall@k", "mrr@k", "ndcg@k", "map@k"}`` for each ``k``, Python floats in ``[0, 1]``.
    Raises:
        ValueError: mismatched lengths or feature sizes, empty or non-finite input, a cut-off larger
        than the corpus, an index out of range, a negative grade, a query with nothing relevant.
    """
    queries, corpus = as_embeddings("queries", queries), as_embeddings("corpus", corpus)
    check_same_dim("queries", queries, "corpus", corpus)
    check_backend(backend)
    ks = check_ks(ks, corpus.shape[0], "the corpus size")
    grade_maps = relevance_grades(relevant, queries.shape[0], corpus.shape[0])
    _, ranked = top_k(queries, corpus, max(ks), chunk_size=chunk_size, backend=backend)
    grades = np.array([[grade_map.get(j, 0.0) for j in row] for grade_map, row in
                       zip(grade_maps, ranked.tolist())], dtype=np.float64)
    positives = [np.array([g for g in m.values() if g > 0], dtype=np.float64) for m in grade_maps]
    return ranking_metrics(grades, positives, ks)


def relevance_grades(relevant: Sequence, num_queries: int, corpus_size: int) -> list[dict[int, float]]:
    """Validate ``relevant`` and return one ``{corpus index: grade}`` dict per query."""
    if isinstance(relevant, (str, bytes, Mapping)) or not hasattr(relevant, "__len__"):
        raise ValueError(f"relevant: expected a sequence of {num_queries} sets or dicts, "
                         f"got {type(relevant).__name__}")
    if len(relevant) != num_queries:
        raise ValueError(f"relevant: expected {num_queries} entries (one per query), got {len(relevant)}")
    grade_maps = []
    for i, entry in enumerate(relevant):
        if isinstance(entry, Mapping):
            pairs = list(entry.items())
        elif isinstance(entry, (set, frozenset, list, tuple, np.ndarray)):
            pairs = [(j, 1.0) for j in entry]
        else:
            raise ValueError(f"relevant[{i}]: expected a set of indices or a dict index -> grade, "
                             f"got {type(entry).__name__}")
        grades = {}
        for j, g in pairs:
            if isinstance(j, (bool, np.bool_)) or not isinstance(j, (int, np.integer)) \
                    or not 0 <= j < corpus_size:
                raise ValueError(f"relevant[{i}]: index {j!r} is not an int in [0, {corpus_size})")
            g = float(g)
            if not math.isfinite(g) or g < 0:
                raise ValueError(f"relevant[{i}]: grade of index {j} must be finite and >= 0, got {g}")
            grades[int(j)] = g
        if not any(g > 0 for g in grades.values()):
            raise ValueError(f"relevant[{i}]: query {i} has no relevant item (grade > 0)")
        grade_maps.append(grades)
    return grade_maps
