"""Hard negatives from a queue: each query's top-k most similar keys, near-duplicates left out."""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: query rows scored against the whole queue at once.
BLOCK_ROWS = 1024


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
    index, scores, dropped = hard_negative_scores(queries, keys, top_k, max_similarity, block_rows)
    return index, torch.isfinite(scores), dropped


@torch.no_grad()
def hard_negative_scores(queries: Tensor, keys: Tensor, top_k: int, max_similarity: float | None = None,
                         block_rows: int = BLOCK_ROWS) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`hard_negative_indices` with the chosen keys' scores ``(N, top_k)`` in place of the mask:
    each row sorted from the highest, ``-inf`` in the slots left empty. The scores are those of the
    one ``queries @ keys.T`` product per block, so a caller needs no second product for them."""
    k = keys.shape[0]
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= k:
        raise ValueError(f"top_k: expected an int in [1, {k}] (the queue holds {k} keys), got {top_k!r}")
    if max_similarity is not None and not math.isfinite(float(max_similarity)):
        raise ValueError(f"max_similarity: expected a finite float or None, got {max_similarity!r}")
    index = torch.empty(queries.shape[0], top_k, dtype=torch.long, device=queries.device)
    chosen = torch.empty(queries.shape[0], top_k, dtype=queries.dtype, device=queries.device)
    dropped = torch.zeros(queries.shape[0], dtype=torch.long, device=queries.device)
    c = keys.to(queries.dtype)
    for start in range(0, queries.shape[0], block_rows):
        scores = queries[start:start + block_rows] @ c.T
        stop = start + scores.shape[0]
        # the mask costs a pass and a count over the block: skip it when no score is above (one max on
        # CPU; on an accelerator the check would cost a synchronisation, so always mask there)
        if max_similarity is not None and (scores.device.type != "cpu" or scores.max() > max_similarity):
            above = scores > max_similarity
            dropped[start:stop] = above.sum(dim=1, dtype=torch.int32)  # ~3x faster than an int64 count
            scores.masked_fill_(above, float("-inf"))
        best = scores.topk(top_k, dim=1)
        index[start:stop], chosen[start:stop] = best.indices, best.values
    return index, chosen, dropped
