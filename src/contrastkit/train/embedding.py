"""Batched inference helpers shared by the trainer, the evaluators and the CLI."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor


def to_device(value, device: torch.device):
    """Move tensors (also inside dicts, lists and tuples) to ``device``; other values unchanged."""
    if isinstance(value, Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(to_device(v, device) for v in value)
    return value


def chunks(inputs, size: int):
    for start in range(0, len(inputs), size):
        yield inputs[start : start + size]


@torch.no_grad()
def embed_all(
    forward: Callable,
    inputs: Tensor | Sequence,
    device: torch.device,
    batch_size: int = 512,
    autocast: bool = False,
) -> Tensor:
    """``forward`` over ``inputs`` in batches, in eval mode, returning float32 ``(N, d)`` on CPU."""
    module = getattr(forward, "__self__", None)
    was_training = module.training if isinstance(module, torch.nn.Module) else None
    if was_training:
        module.eval()
    try:
        out = []
        for batch in chunks(inputs, batch_size):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                out.append(forward(to_device(batch, device)).float().cpu())
        return torch.cat(out)
    finally:
        if was_training:
            module.train()


def embedding_function(
    model: torch.nn.Module, device: torch.device, autocast: bool = False, batch_size: int = 512
) -> Callable:
    """``embed_fn(inputs) -> (N, d)`` float32 CPU tensor of the model's representation
    (``model.embed`` when it has one, else ``model``)."""
    forward = getattr(model, "embed", model)
    return lambda inputs: embed_all(forward, inputs, device, batch_size, autocast)
