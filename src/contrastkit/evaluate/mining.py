r"""Hard-negative mining: per (anchor, positive) row, the most similar corpus items that are not positive.

For anchor :math:`a_i` with positive :math:`p_i` and corpus items :math:`c_j` (cosine similarity
:math:`s`), a candidate :math:`j` is kept when it is not excluded for row :math:`i` (the positive itself,
items of the row's group) and passes the false-negative filters

.. math::
    s(a_i, c_j) \le s(a_i, p_i) - \text{margin} \quad\text{and}\quad s(a_i, c_j) \le \text{threshold},

the same rule as the losses' ``false_negative_margin`` / ``false_negative_threshold`` (and
sentence-transformers' ``mine_hard_negatives`` ``relative_margin`` / ``absolute_margin`` ideas, written
here as cosine differences). The top ``k`` kept candidates by similarity are returned, ties broken by the
lower corpus index. Exact search goes ``chunk_size`` anchors at a time (no ``N x M`` matrix); FAISS
(``IndexFlatIP``) searches a growing number of results until ``k`` pass the filters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import as_embeddings, check_positive_int, check_same_dim
from ._search import CHUNK_ELEMENTS, _mask_excluded, _stable_top_k, check_backend, top_k


def check_filter(name: str, value: float | None) -> float:
    if value is None:
        return math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number or None, got {value!r}")
    return float(value)


def mine_hard_negatives(anchors, positives, corpus, k: int, *, exclude: Sequence[Sequence[int]] | None = None,
                        margin: float | None = None, threshold: float | None = None,
                        chunk_size: int | None = None, backend: str = "exact") -> list[list[int]]:
    """Corpus indices of up to ``k`` hard negatives per anchor, most similar first.

    Args:
        anchors, positives: ``(N, d)``; row ``i`` of each is a pair. corpus: ``(M, d)``.
        k: negatives per anchor (fewer when fewer candidates pass).
        exclude: per anchor, corpus indices that are never negatives (its positive, its group).
        margin: drop candidates scoring above ``s(anchor, positive) - margin`` (``None``: no filter).
        threshold: drop candidates scoring above this cosine similarity (``None``: no filter).
        chunk_size: anchors per chunk of the exact search; backend: ``"exact"`` or ``"faiss"``.
    Raises:
        ValueError: mismatched shapes, non-finite inputs, ``k < 1``, a non-finite ``margin`` / ``threshold``,
            ``exclude`` of the wrong length.
    """
    anchors, positives = as_embeddings("anchors", anchors), as_embeddings("positives", positives)
    corpus = as_embeddings("corpus", corpus)
    if positives.shape != anchors.shape:
        raise ValueError(f"positives: expected shape {tuple(anchors.shape)} (one per anchor), "
                         f"got {tuple(positives.shape)}")
    check_same_dim("anchors", anchors, "corpus", corpus)
    check_positive_int("k", k)
    check_backend(backend)
    margin, threshold = check_filter("margin", margin), check_filter("threshold", threshold)
    if exclude is not None and len(exclude) != anchors.shape[0]:
        raise ValueError(f"exclude: expected {anchors.shape[0]} entries (one per anchor), got {len(exclude)}")
    a = F.normalize(anchors.float(), dim=1)
    c = F.normalize(corpus.float().to(a.device), dim=1)
    cap = torch.clamp((a * F.normalize(positives.float().to(a.device), dim=1)).sum(1) - margin, max=threshold)
    k = min(k, c.shape[0])
    if backend == "faiss":
        return _faiss_mine(a, c, k, exclude, cap)
    rows = chunk_size or max(1, CHUNK_ELEMENTS // c.shape[0])
    found: list[list[int]] = []
    for start in range(0, a.shape[0], rows):
        block = a[start:start + rows] @ c.T  # (rows, M)
        if exclude is not None:
            _mask_excluded(block, exclude[start:start + rows])
        block[block > cap[start:start + rows, None]] = -math.inf
        values, index = _stable_top_k(block, k)
        found += [[j for j, v in zip(r, s) if v > -math.inf] for r, s in zip(index.tolist(), values.tolist())]
    return found


def _faiss_mine(a: Tensor, c: Tensor, k: int, exclude, cap: Tensor) -> list[list[int]]:
    """Search ``want`` results for the rows still short of ``k`` kept candidates, growing ``want``."""
    banned = [set(exclude[i]) if exclude is not None else set() for i in range(a.shape[0])]
    found: list[list[int]] = [[] for _ in range(a.shape[0])]
    todo = list(range(a.shape[0]))
    want = min(c.shape[0], 2 * k + max((len(b) for b in banned), default=0))
    while todo:
        scores, ids = top_k(a[todo], c, want, cosine=False, backend="faiss")
        short = []
        for r, i in enumerate(todo):
            limit = cap[i].item()
            found[i] = [j for s, j in zip(scores[r].tolist(), ids[r].tolist())
                        if j not in banned[i] and s <= limit][:k]
            if len(found[i]) < k and want < c.shape[0]:
                short.append(i)
        todo, want = short, min(c.shape[0], 4 * want)
    return found
