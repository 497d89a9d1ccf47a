r"""LightGCN-style propagation on a user-item graph, with LightGCL's SVD view.

Normalised adjacency of the bipartite graph (binary interactions ``A``, degrees ``D_u``, ``D_i``):

.. math::
    \tilde A = D_u^{-1/2} A D_i^{-1/2}, \qquad \tilde A_{ui} = \frac{1}{\sqrt{|N_u|\,|N_i|}}

LightGCN (He et al., 2020, arXiv:2002.02126) propagates without weights or activations,
:math:`E_u^{(l)} = \tilde A E_i^{(l-1)}`, :math:`E_i^{(l)} = \tilde A^\top E_u^{(l-1)}`, and combines the
layers by their mean. LightGCL (Cai, Huang, Xia, Ren, 2023, arXiv:2302.08191, current official code
``model.py``/``main.py``) uses the same propagation with the layers *summed*, optional edge dropout on
``\tilde A`` (drawn separately for the user and the item update), and a second view from the rank-``q``
randomized SVD :math:`\tilde A \approx U_q S_q V_q^\top` (``torch.svd_lowrank`` of the normalised matrix):

.. math::
    G_u^{(l)} = (U_q S_q)(V_q^\top E_i^{(l-1)}), \quad G_i^{(l)} = (V_q S_q)(U_q^\top E_u^{(l-1)}), \quad
    E = \sum_{l=0}^{L} E^{(l)}, \quad G = E^{(0)} + \sum_{l=1}^{L} G^{(l)}

where the :math:`E^{(l-1)}` fed to the SVD view are the main view's layers. Everything is sparse or
low-rank: no ``users x items`` dense matrix is ever built.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from contrastkit.views.graph import dropout_edges


def normalized_adjacency(users: Tensor, items: Tensor, num_users: int, num_items: int, *,
                         dtype: torch.dtype = torch.float32) -> Tensor:
    """``D_u^{-1/2} A D_i^{-1/2}`` as a coalesced sparse COO ``(num_users, num_items)`` tensor.

    ``A`` is binary: repeated ``(user, item)`` pairs count once.

    Raises:
        ValueError: for index vectors that are not 1-D integer tensors of one length, or indices outside
            ``[0, num_users)`` / ``[0, num_items)``.
    """
    for name, index, size in (("users", users, num_users), ("items", items, num_items)):
        if index.dim() != 1 or index.dtype.is_floating_point or index.dtype == torch.bool:
            raise ValueError(f"{name}: expected a 1-D integer tensor, got {index.dtype} {tuple(index.shape)}")
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= size):
            raise ValueError(f"{name}: indices must lie in [0, {size})")
    if users.shape != items.shape:
        raise ValueError(f"items: expected {users.numel()} indices like users, got {items.numel()}")
    indices = torch.stack([users.long(), items.long()])
    ones = torch.ones(indices.shape[1], dtype=dtype, device=users.device)
    binary = torch.sparse_coo_tensor(indices, ones, (num_users, num_items), check_invariants=True).coalesce()
    row, col = binary.indices()
    deg_u = torch.bincount(row, minlength=num_users).to(dtype)
    deg_i = torch.bincount(col, minlength=num_items).to(dtype)
    values = (deg_u[row] * deg_i[col]).rsqrt()
    return torch.sparse_coo_tensor(binary.indices(), values, binary.shape, is_coalesced=True,
                                   check_invariants=False)


class SVDView(NamedTuple):
    """Rank-``q`` factors of ``A~ = U S V^T``: ``u_s = U S`` (U, q), ``v_s = V S`` (I, q), ``u``, ``v``."""

    u_s: Tensor
    v_s: Tensor
    u: Tensor
    v: Tensor


def svd_view(adjacency: Tensor, rank: int, *, niter: int = 2, seed: int = 0) -> SVDView:
    """Randomized rank-``rank`` SVD of a sparse matrix (``torch.svd_lowrank``), seeded locally."""
    max_rank = min(adjacency.shape)
    if int(rank) != rank or not 1 <= rank <= max_rank:
        raise ValueError(f"rank: expected an integer in [1, {max_rank}], got {rank!r}")
    devices = [adjacency.device] if adjacency.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        u, s, v = torch.svd_lowrank(adjacency, q=int(rank), niter=niter)
    return SVDView(u * s, v * s, u, v)


class GraphEmbeddings(NamedTuple):
    """Main view ``user (U, d)``, ``item (I, d)``; SVD view ``user_svd``, ``item_svd`` (or ``None``)."""

    user: Tensor
    item: Tensor
    user_svd: Tensor | None
    item_svd: Tensor | None


class GraphEncoder(nn.Module):
    r"""Learnable user/item embeddings propagated over the interaction graph (see the module docstring).

    Args:
        users, items: ``(E,)`` integer indices of the training interactions.
        num_users, num_items: node counts.
        dim: embedding size ``d`` (LightGCL default 64).
        num_layers: propagation layers ``L`` (LightGCL default 2; 0 returns the initial embeddings).
        layer_combination: ``"sum"`` (LightGCL) or ``"mean"`` (LightGCN); applies to both views.
        svd_rank: ``q`` of the SVD view (LightGCL default 5), or ``None`` for no SVD view.
        edge_dropout: probability of :func:`~contrastkit.views.dropout_edges` in training mode (default 0).
        seed: seeds the Xavier-uniform initialisation and the randomized SVD.
    Returns (``forward(generator=None)``):
        :class:`GraphEmbeddings` (float32).
    """

    def __init__(self, users: Tensor, items: Tensor, num_users: int, num_items: int, *, dim: int = 64,
                 num_layers: int = 2, layer_combination: str = "sum", svd_rank: int | None = 5,
                 edge_dropout: float = 0.0, seed: int = 0):
        super().__init__()
        for name, value in (("num_users", num_users), ("num_items", num_items), ("dim", dim)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if int(num_layers) != num_layers or num_layers < 0:
            raise ValueError(f"num_layers: expected a non-negative integer, got {num_layers!r}")
        if layer_combination not in ("sum", "mean"):
            raise ValueError(f"layer_combination: expected 'sum' or 'mean', got {layer_combination!r}")
        if not 0.0 <= edge_dropout < 1.0:
            raise ValueError(f"edge_dropout: expected a probability in [0, 1), got {edge_dropout!r}")
        self.num_layers, self.layer_combination = int(num_layers), layer_combination
        self.edge_dropout = float(edge_dropout)
        adjacency = normalized_adjacency(users, items, num_users, num_items)
        self.register_buffer("adjacency", adjacency, persistent=False)
        self.register_buffer("adjacency_t", adjacency.t().coalesce(), persistent=False)
        self.has_svd_view = svd_rank is not None
        if self.has_svd_view:
            for name, factor in svd_view(adjacency, svd_rank, seed=seed)._asdict().items():
                self.register_buffer(f"svd_{name}", factor, persistent=False)
        generator = torch.Generator().manual_seed(seed)
        self.user_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(num_users, dim),
                                                                   generator=generator))
        self.item_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(num_items, dim),
                                                                   generator=generator))

    def forward(self, generator: torch.Generator | None = None) -> GraphEmbeddings:
        p = self.edge_dropout if self.training else 0.0
        e_u, e_i = [self.user_embedding], [self.item_embedding]
        g_u, g_i = [self.user_embedding], [self.item_embedding]
        for _ in range(self.num_layers):
            a = dropout_edges(self.adjacency, p, generator=generator)
            a_t = dropout_edges(self.adjacency_t, p, generator=generator)
            if self.has_svd_view:  # from the main view's previous layer, as the official code
                g_u.append(self.svd_u_s @ (self.svd_v.T @ e_i[-1]))
                g_i.append(self.svd_v_s @ (self.svd_u.T @ e_u[-1]))
            e_u, e_i = [*e_u, torch.sparse.mm(a, e_i[-1])], [*e_i, torch.sparse.mm(a_t, e_u[-1])]
        if not self.has_svd_view:
            return GraphEmbeddings(self._combine(e_u), self._combine(e_i), None, None)
        return GraphEmbeddings(self._combine(e_u), self._combine(e_i), self._combine(g_u), self._combine(g_i))

    def _combine(self, layers: list[Tensor]) -> Tensor:
        total = torch.stack(layers).sum(0)
        return total / len(layers) if self.layer_combination == "mean" else total
