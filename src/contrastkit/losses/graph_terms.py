r"""LightGCL's three terms as objectives over one graph step (Cai et al., 2023, arXiv:2302.08191,
official ``main.py``):

.. math::
    \mathcal{L} = \mathcal{L}_r + \lambda_1 \mathcal{L}_s + \lambda_2 \big(\lVert E_u^{(0)}\rVert^2
        + \lVert E_i^{(0)}\rVert^2\big)

Each module takes the field ``graph``: a :class:`~contrastkit.encoders.graph_tower.GraphBatch` (the
whole graph's main and SVD views, the batch's ``(user, positive, negative)`` indices and the layer-0
tables). The weights :math:`\lambda_1, \lambda_2` are the objectives' weights.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from .lightgcl import LightGCLContrastive, bpr_loss


class GraphBPR(nn.Module):
    r""":math:`\mathcal{L}_r`: :func:`~contrastkit.losses.bpr_loss` of the batch's triples on the main
    view."""

    field_inputs: ClassVar[dict] = {"graph": "graph"}

    def forward(self, graph) -> Tensor:
        out = graph.graph
        return bpr_loss(out.user[graph.users], out.item[graph.positives], out.item[graph.negatives])


class GraphContrast(nn.Module):
    r""":math:`\mathcal{L}_s`: :class:`~contrastkit.losses.LightGCLContrastive` between the SVD view of
    the batch's users and items (``positives ++ negatives``) and the main view of every node."""

    field_inputs: ClassVar[dict] = {"graph": "graph"}

    def __init__(self, contrast: LightGCLContrastive | None = None):
        super().__init__()
        self.contrast = contrast if contrast is not None else LightGCLContrastive()

    def forward(self, graph) -> Tensor:
        out = graph.graph
        items = torch.cat([graph.positives, graph.negatives])
        return self.contrast(out.user_svd, out.user, graph.users, out.item_svd, out.item, items)


class GraphL2(nn.Module):
    r"""The L2 term :math:`\lVert E_u^{(0)}\rVert^2 + \lVert E_i^{(0)}\rVert^2` of the embedding tables."""

    field_inputs: ClassVar[dict] = {"graph": "graph"}

    def forward(self, graph) -> Tensor:
        return graph.user_initial.square().sum() + graph.item_initial.square().sum()
