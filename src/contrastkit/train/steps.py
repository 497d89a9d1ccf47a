"""Pieces of one optimizer step: the optimizer, and V views through a model."""

from __future__ import annotations

import torch
from torch import nn

from .config import OptimSection


def build_optimizer(parameters, optim: OptimSection) -> torch.optim.Optimizer:
    if optim.name == "sgd":
        return torch.optim.SGD(
            parameters, lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay
        )
    cls = torch.optim.AdamW if optim.name == "adamw" else torch.optim.Adam
    return cls(parameters, lr=optim.lr, betas=tuple(optim.betas), weight_decay=optim.weight_decay)


def forward_views(model: nn.Module, views: list) -> list[torch.Tensor]:
    """Tensor views of one shape go through the model in one pass (shared BatchNorm statistics,
    as in SimCLR); other inputs (e.g. token batches) one view at a time. One view goes through as
    it is, so a model may return a structure other than a tensor (the graph tower)."""
    if len(views) == 1:
        return [model(views[0])]
    if all(isinstance(v, torch.Tensor) for v in views) and len({v.shape[1:] for v in views}) == 1:
        return list(model(torch.cat(views)).chunk(len(views)))
    return [model(v) for v in views]
