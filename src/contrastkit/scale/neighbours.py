"""Nearest neighbours in a support set, by inner product, in row blocks (no ``N x K`` matrix)."""

from __future__ import annotations

import torch
from torch import Tensor

#: rows of queries compared with the whole support set at once.
BLOCK_ROWS = 1024


@torch.no_grad()
def nearest_neighbours(queries: Tensor, support: Tensor, block_rows: int = BLOCK_ROWS) -> Tensor:
    """Index into ``support (K, d)`` of the largest inner product with each row of ``queries (N, d)``
    (the first on ties), ``(N,)`` int64; memory ``O(block_rows * K)``. Normalise both for cosine."""
    if support.shape[0] == 0:
        raise ValueError("support: expected at least one row, got an empty support set")
    out = torch.empty(queries.shape[0], dtype=torch.long, device=queries.device)
    s = support.to(queries.dtype)
    for start in range(0, queries.shape[0], block_rows):
        block = queries[start:start + block_rows]
        out[start:start + block.shape[0]] = (block @ s.T).argmax(dim=1)
    return out
