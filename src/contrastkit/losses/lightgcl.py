"""LightGCL's SVD-view contrastive loss over all graph nodes, and the BPR ranking loss."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..engine import PairStructure, accumulation_dtype
from ._common import ContrastiveLoss, check_embeddings, check_same_shape
from ._false_negatives import statistics

POSITIVE_LOGIT_BOUND = 5.0  # official code: clamp(<G_u, E_u>/tau, -5, 5)
LOG_OFFSET = math.log(1e-8)  # official code: log(sum exp(.) + 1e-8)


def check_node_index(name: str, index: Tensor, num_nodes: int, device: torch.device) -> Tensor:
    """A non-empty 1-D integer tensor of node ids in ``[0, num_nodes)``, returned as int64."""
    if not isinstance(index, Tensor):
        index = torch.as_tensor(index)
    if index.dim() != 1 or index.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D tensor, got shape {tuple(index.shape)}")
    if index.is_floating_point() or index.is_complex() or index.dtype == torch.bool:
        raise ValueError(f"{name}: expected an integer tensor, got {index.dtype}")
    if int(index.min()) < 0 or int(index.max()) >= num_nodes:
        raise ValueError(f"{name}: node ids must lie in [0, {num_nodes}), got "
                         f"[{int(index.min())}, {int(index.max())}]")
    return index.to(device=device, dtype=torch.long)


class LightGCLContrastive(ContrastiveLoss):
    r"""LightGCL's contrastive term :math:`\mathcal{L}_s` (Cai, Huang, Xia & Ren, 2023, "LightGCL:
    Simple Yet Effective Graph Contrastive Learning for Recommendation", ICLR 2023,
    arXiv:2302.08191), as the current official code (HKUDS/LightGCL ``model.py``).

    .. math::
        \mathcal{L}_s = \frac{1}{|B_u|}\sum_{u\in B_u}\Big[-\operatorname{clip}_{[-5, 5]}
            \Big(\frac{\langle g_u, e_u\rangle}{\tau}\Big)
            + \log\Big(\sum_{u'\in\mathcal{U}} e^{\langle g_u, e_{u'}\rangle/\tau} + 10^{-8}\Big)\Big]
            + \big(\text{the same over the batch's items } B_i \text{ and all items } \mathcal{I}\big)

    Anchors are the SVD-view embeddings :math:`g` of the batch's users (items); candidates are the
    main-view embeddings :math:`e` of **every** user (item) in the graph; the positive is the same
    node and stays in the denominator; one direction. Raw dot products: no L2 normalisation
    (``normalize=False`` by default). Two constants come from the official code and change the
    value: the positive logit is clamped to ``[-5, 5]`` (no gradient outside that range) and
    ``1e-8`` is added inside the log (applied here as a log-add-exp with :math:`\log 10^{-8}`).
    Repeated batch ids count once per occurrence (the official item batch is ``pos ++ neg``).
    The ICLR submission's code (``old_setting/``: per-layer InfoNCE between normalised, projected
    views with in-batch negatives) and the paper's equations differ from this; see
    docs/formulas.md, LightGCL.

    Args:
        temperature: :math:`\tau > 0` (default 0.2, the official ``parser.py`` default).
        learnable_temperature, normalize, reduction, backend, tile_size: see :class:`InfoNCE`;
            ``normalize`` defaults to ``False``. ``reduction="mean"`` adds the user mean and the item
            mean; ``"sum"`` sums every term; ``"none"`` returns the user terms then the item terms.
    Shapes:
        users_svd, users ``(U, d)``; user_index ``(B_u,)`` ids in ``[0, U)``; items_svd, items
        ``(I, d)``; item_index ``(B_i,)`` ids in ``[0, I)``.
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, an id out of range or
        ``temperature <= 0``.
    """

    supports_false_negatives = True

    def __init__(self, temperature: float = 0.2, normalize: bool = False, **options):
        super().__init__(temperature, normalize=normalize, **options)

    def node_loss(self, svd_view: Tensor, main_view: Tensor, index: Tensor, *,
                  names: tuple[str, str, str] = ("svd_view", "main_view", "index")) -> Tensor:
        """Per-anchor terms for one node type, shape ``(B,)``."""
        g = self.prepare(names[0], svd_view)
        e = self.prepare(names[1], main_view)
        check_same_shape(names[0], g, names[1], e)
        index = check_node_index(names[2], index, e.shape[0], e.device)
        anchors = g[index]  # (B, d)
        scale = self.temperature.scale()
        narrow = min((g.dtype, e.dtype), key=lambda t: torch.finfo(t).max)  # mixed: the engine's
        check_dot_range(f"{names[0]}, {names[1]}", anchors, e, float(scale), narrow)
        structure = PairStructure(index.numel(), e.shape[0], pos_index=index)
        stats = statistics(self, anchors, e, structure, {"lse_all"}, scale=scale,
                                **self.engine_options())
        positive = ((anchors * e[index]).sum(dim=1) * scale).clamp(-POSITIVE_LOGIT_BOUND,
                                                                   POSITIVE_LOGIT_BOUND)
        offset = torch.full_like(stats.lse_all, LOG_OFFSET)
        return torch.logaddexp(stats.lse_all, offset) - positive

    def forward(self, users_svd: Tensor, users: Tensor, user_index: Tensor,
                items_svd: Tensor, items: Tensor, item_index: Tensor) -> Tensor:
        user_terms = self.node_loss(users_svd, users, user_index,
                                    names=("users_svd", "users", "user_index"))
        item_terms = self.node_loss(items_svd, items, item_index,
                                    names=("items_svd", "items", "item_index"))
        if self.reduction == "mean":
            return user_terms.mean() + item_terms.mean()
        if self.reduction == "sum":
            return user_terms.sum() + item_terms.sum()
        return torch.cat([user_terms, item_terms])


def check_dot_range(names: str, a: Tensor, b: Tensor, scale: float, dtype: torch.dtype) -> None:
    """Raw (unnormalised) dot products, times ``scale``, must stay far below ``dtype``'s maximum;
    otherwise the value or its gradient overflows to inf / NaN. Bound: ``max|a| max|b| scale``."""
    bound = float(a.detach().double().norm(dim=-1).max() * b.detach().double().norm(dim=-1).max()) * scale
    if not bound < torch.finfo(dtype).max / 64:
        raise ValueError(f"{names}: embedding norms this large make the dot products overflow "
                         f"{str(dtype).removeprefix('torch.')} (|a||b|/tau up to {bound:.3g})")


def bpr_loss(users: Tensor, positive_items: Tensor, negative_items: Tensor) -> Tensor:
    r"""Bayesian personalised ranking loss (Rendle et al., 2009, arXiv:1205.2618), LightGCL's
    :math:`\mathcal{L}_r`.

    .. math::
        \mathcal{L}_r = -\frac{1}{B}\sum_{b=1}^{B}
            \log\sigma\big(\langle e_{u_b}, e_{p_b}\rangle - \langle e_{u_b}, e_{n_b}\rangle\big)

    On raw embeddings (no normalisation), computed as ``softplus(-x)`` for stability.

    Shapes:
        users, positive_items, negative_items ``(B, d)``: row ``b`` is one (user, item the user
        interacted with, sampled item) triple.
    Returns:
        Scalar float32 tensor (float64 for float64 inputs).
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, or norms so large that
        the dot products overflow.
    """
    for name, x in (("users", users), ("positive_items", positive_items),
                    ("negative_items", negative_items)):
        check_embeddings(name, x)
    check_same_shape("users", users, "positive_items", positive_items)
    check_same_shape("users", users, "negative_items", negative_items)
    dtype = accumulation_dtype(users)
    u, p, n = (x.to(dtype) for x in (users, positive_items, negative_items))
    check_dot_range("users, positive_items, negative_items", u, torch.cat([p, n]), 2.0, dtype)
    margin = (u * p).sum(dim=1) - (u * n).sum(dim=1)
    return F.softplus(-margin).mean()
