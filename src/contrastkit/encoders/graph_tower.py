"""The graph encoder as a tower of the one trainer: node indices in, what the LightGCL objectives need out.

A LightGCL step scores the whole graph at once: one propagation gives every node's main view and SVD
view (:class:`~contrastkit.encoders.graph.GraphEncoder`), and the step's BPR triples pick their rows.
The tower therefore reads two kinds of input:

* ``(N, 3)`` integer triples ``(user, positive item, negative item)`` (the training field ``graph``):
  returns a :class:`GraphBatch`, the whole graph's embeddings plus the triples' indices and the
  layer-0 tables (for the L2 term);
* ``(n,)`` node indices, users ``0..U-1`` then items ``U..U+I-1``: returns the main view of those
  nodes ``(n, d)`` (the representation that evaluation ranks with).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from .graph import GraphEmbeddings, GraphEncoder


class GraphBatch(NamedTuple):
    """One training step's view of the graph: every node's embeddings, the batch's triples
    (``users``, ``positives``, ``negatives``: user / item indices) and the layer-0 tables."""

    graph: GraphEmbeddings
    users: Tensor
    positives: Tensor
    negatives: Tensor
    user_initial: Tensor
    item_initial: Tensor


class GraphTower(nn.Module):
    """:class:`~contrastkit.encoders.graph.GraphEncoder` (same arguments) read as described above.
    Edge dropout draws from the global RNG, which the trainer seeds per step."""

    def __init__(self, users: Tensor, items: Tensor, num_users: int, num_items: int, *, dim: int = 64,
                 num_layers: int = 2, layer_combination: str = "sum", svd_rank: int | None = 5,
                 edge_dropout: float = 0.0, seed: int = 0):
        super().__init__()
        self.graph = GraphEncoder(users, items, num_users, num_items, dim=dim, num_layers=num_layers,
                                  layer_combination=layer_combination, svd_rank=svd_rank,
                                  edge_dropout=edge_dropout, seed=seed)
        self.num_users, self.num_items, self.embedding_dim = int(num_users), int(num_items), int(dim)

    def forward(self, x: Tensor):
        if x.dtype.is_floating_point or x.dim() not in (1, 2) or (x.dim() == 2 and x.shape[1] != 3):
            raise ValueError(f"x: expected (n,) node indices or (N, 3) (user, positive, negative) "
                             f"triples of integers, got {x.dtype} {tuple(x.shape)}")
        out = self.graph()
        if x.dim() == 1:
            return torch.cat([out.user, out.item])[x]
        tables = self.graph.user_embedding, self.graph.item_embedding
        return GraphBatch(out, x[:, 0], x[:, 1], x[:, 2], *tables)

