"""Pieces of one optimizer step: the optimizer itself and how a loss is called with V view outputs."""

from __future__ import annotations

import torch
from torch import nn

from .config import OptimSection

LOSS_INPUTS = ("views", "views+labels", "stacked", "stacked+labels")


def build_optimizer(parameters, optim: OptimSection) -> torch.optim.Optimizer:
    if optim.name == "sgd":
        return torch.optim.SGD(
            parameters, lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay
        )
    cls = torch.optim.AdamW if optim.name == "adamw" else torch.optim.Adam
    return cls(parameters, lr=optim.lr, betas=tuple(optim.betas), weight_decay=optim.weight_decay)


def call_loss(loss: nn.Module, loss_inputs: str, outputs: list[torch.Tensor], labels):
    """``views`` -> ``loss(*z)``, ``views+labels`` -> ``loss(*z, labels=y)``, ``stacked`` ->
    ``loss(stack(z, 1))``, ``stacked+labels`` -> ``loss(stack(z, 1), y)``."""
    if loss_inputs.endswith("+labels") and labels is None:
        raise ValueError(f"loss.inputs = {loss_inputs!r}: the training data has no labels")
    if loss_inputs == "views":
        return loss(*outputs)
    if loss_inputs == "views+labels":
        return loss(*outputs, labels=labels)
    stacked = torch.stack(outputs, dim=1)  # (N, V, d)
    return loss(stacked) if loss_inputs == "stacked" else loss(stacked, labels)


def forward_views(model: nn.Module, views: list) -> list[torch.Tensor]:
    """Tensor views of one shape go through the model in one pass (shared BatchNorm statistics,
    as in SimCLR); other inputs (e.g. token batches) one view at a time."""
    if all(isinstance(v, torch.Tensor) for v in views) and len({v.shape[1:] for v in views}) == 1:
        return list(model(torch.cat(views)).chunk(len(views)))
    return [model(v) for v in views]
