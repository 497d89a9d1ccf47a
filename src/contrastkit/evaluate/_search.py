"""Chunked exact top-k search (and an optional FAISS backend) shared by the probes, retrieval,
recommendation and anomaly metrics.

Ranking rule, the same everywhere: higher score first, ties broken by the lower corpus index. Exact
search compares queries with the corpus ``chunk_size`` query rows at a time, so memory is
``O((Q + M) d + chunk_size * M)`` and no ``Q x M`` matrix exists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

BACKENDS = ("exact", "faiss")
CHUNK_ELEMENTS = 1 << 25  # scores held at once by the exact search (128 MiB in float32)


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    return backend


def top_k(queries: Tensor, corpus: Tensor, k: int, *, cosine: bool = True,
          exclude: Sequence[Sequence[int]] | None = None, chunk_size: int | None = None,
          backend: str = "exact") -> tuple[Tensor, Tensor]:
    """The ``k`` highest-scoring corpus rows for each query.

    Args:
        queries: ``(Q, d)``; corpus: ``(M, d)``; validated by the caller.
        k: number of results, ``1 <= k <= M - max |exclude[q]|`` (checked by the caller).
        cosine: score by cosine similarity (rows L2-normalised) rather than the inner product.
        exclude: per query, corpus indices that may not be returned (e.g. training items).
        chunk_size: query rows per chunk (default: ``2^25 / M`` rows).
        backend: ``"exact"`` (torch, on the inputs' device) or ``"faiss"`` (``IndexFlatIP``, CPU).
    Returns:
        ``(scores, indices)``, both ``(Q, k)`` on the CPU: float32 scores, int64 indices, ranked.
    """
    check_backend(backend)
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
                                   or chunk_size < 1):
        raise ValueError(f"chunk_size: expected a positive int or None, got {chunk_size!r}")
    q = queries.to(torch.float32)
    c = corpus.to(device=q.device, dtype=torch.float32)
    if cosine:
        q, c = F.normalize(q, dim=1, eps=1e-12), F.normalize(c, dim=1, eps=1e-12)
    if backend == "faiss":
        return _faiss_top_k(q, c, k, exclude)
    rows = chunk_size or max(1, CHUNK_ELEMENTS // c.shape[0])
    buffer = torch.empty(min(rows, q.shape[0]), c.shape[0], dtype=torch.float32, device=q.device)
    scores, indices = [], []
    for start in range(0, q.shape[0], rows):
        chunk = q[start:start + rows]
        block = torch.matmul(chunk, c.T, out=buffer[: chunk.shape[0]])  # (rows, M), one reused buffer
        if exclude is not None:
            _mask_excluded(block, exclude[start:start + rows])
        values, index = _stable_top_k(block, k)
        scores.append(values.cpu())
        indices.append(index.cpu())
    return torch.cat(scores), torch.cat(indices)


def _mask_excluded(block: Tensor, exclude: Sequence[Sequence[int]]) -> None:
    row_ids = [r for r, items in enumerate(exclude) for _ in items]
    if row_ids:
        cols = [int(i) for items in exclude for i in items]
        block[torch.tensor(row_ids, device=block.device), torch.tensor(cols, device=block.device)] = -math.inf


def _stable_top_k(scores: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Top ``k`` of each row, ranked by score descending then index ascending, and deterministic
    at the cut: of the items tied with the k-th score, the lowest indices are kept.

    ``topk`` of ``k + 1`` picks the set; only rows whose ``(k+1)``-th score equals the ``k``-th (a
    tie across the cut, rare with real-valued scores) are redone by an index-ordered selection."""
    values, index = scores.topk(min(k + 1, scores.shape[1]), dim=1)  # (R, k + 1)
    crowded = values[:, k] == values[:, k - 1] if values.shape[1] > k else None
    values, index = values[:, :k].contiguous(), index[:, :k].contiguous()
    if crowded is not None and crowded.any():
        rows = crowded.nonzero().squeeze(1)
        values[rows], index[rows] = _lowest_index_top_k(scores[rows], values[rows, -1:], k)
    by_index = torch.sort(index, dim=1, stable=True)
    values, index = values.gather(1, by_index.indices), by_index.values
    order = torch.sort(values, dim=1, descending=True, stable=True).indices
    return values.gather(1, order), index.gather(1, order)


def _lowest_index_top_k(scores: Tensor, threshold: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Everything above ``threshold`` plus the lowest-index items equal to it, ``k`` per row."""
    above = scores > threshold
    tied = scores == threshold
    need = k - above.sum(dim=1, keepdim=True)
    take = above | (tied & (tied.cumsum(dim=1) <= need))
    index = take.nonzero()[:, 1].view(scores.shape[0], k)
    return scores.gather(1, index), index


def _faiss_top_k(q: Tensor, c: Tensor, k: int,
                 exclude: Sequence[Sequence[int]] | None) -> tuple[Tensor, Tensor]:
    """Exact inner-product search with ``faiss.IndexFlatIP``; excluded items are dropped from a
    search of ``k + max |exclude|`` results. Results are re-ranked with the ranking rule above
    (the set returned at a tie on the k-th score is FAISS's choice)."""
    try:
        import faiss
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise ValueError("backend: 'faiss' needs the faiss-cpu package (pip install contrastkit[faiss])") \
            from err
    index = faiss.IndexFlatIP(c.shape[1])
    index.add(np.ascontiguousarray(c.cpu().numpy()))
    extra = max((len(items) for items in exclude), default=0) if exclude is not None else 0
    scores, ids = index.search(np.ascontiguousarray(q.cpu().numpy()), min(k + extra, c.shape[0]))
    scores, ids = torch.from_numpy(scores), torch.from_numpy(ids).to(torch.int64)
    if exclude is not None and extra:
        keep = torch.ones_like(ids, dtype=torch.bool)
        for r, items in enumerate(exclude):
            if len(items):
                keep[r] = ~torch.isin(ids[r], torch.as_tensor(list(items), dtype=torch.int64))
        first_k = keep & (keep.cumsum(dim=1) <= k)
        scores, ids = scores[first_k].view(-1, k), ids[first_k].view(-1, k)
    by_index = torch.sort(ids, dim=1, stable=True)
    scores, ids = scores.gather(1, by_index.indices), by_index.values
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    return scores.gather(1, order), ids.gather(1, order)
