"""Hard negatives from a queue: each query's top-k most similar keys, near-duplicates left out."""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: query rows scored against the whole queue at once.
BLOCK_ROWS = 1024


@torch.no_grad()
def hard_negative_indices(queries: Tensor, keys: Tensor, top_k: int, max_similarity: float | None = None,
                          block_rows: int = BLOCK_ROWS) -> tuple[Tensor, Tensor, Tensor]:
    """For each query, the indices ``(N, top_k)`` of its ``top_k`` highest-scoring keys among those
    scoring ``<= max_similarity`` (inner products; normalise both for cosine), and a mask ``(N, top_k)``
    that is ``False`` where fewer than ``top_k`` keys qualified (those slots must be ignored), and
    per query the number of keys dropped as scoring above ``max_similarity``. Memory ``O(block_rows * K)``.

    Raises:
        ValueError: ``top_k`` not an int in ``[1, K]`` (a queue smaller than the top-k), or a
        non-finite ``max_similarity``.
    """
    k = keys.shape[0]
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= k:
        raise ValueError(f"top_k: expected an int in [1, {k}] (the queue holds {k} keys), got {top_k!r}")
    if max_similarity is not None and not math.isfinite(float(max_similarity)):
        raise ValueError(f"max_similarity: expected a finite float or None, got {max_similarity!r}")
    index = torch.empty(queries.shape[0], top_k, dtype=torch.long, device=queries.device)
    valid = torch.empty(queries.shape[0], top_k, dtype=torch.bool, device=queries.device)
    dropped = torch.zeros(queries.shape[0], dtype=torch.long, device=queries.device)
    c = keys.to(queries.dtype)
    for start in range(0, queries.shape[0], block_rows):
        scores = queries[start:start + block_rows] @ c.T
        stop = start + scores.shape[0]
        if max_similarity is not None:
            above = scores > max_similarity
            dropped[start:stop] = above.sum(dim=1)
            scores = scores.masked_fill(above, float("-inf"))
        best = scores.topk(top_k, dim=1)
        index[start:stop], valid[start:stop] = best.indices, torch.isfinite(best.values)
    return index, valid, dropped
