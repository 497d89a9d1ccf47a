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


class FieldEmbedder:
    """``embed_fn(inputs) -> (N, d)`` float32 CPU tensor of the model's representation
    (``model.embed`` when it has one, else ``model``); ``for_field(name)`` gives the function of
    the tower that encodes field ``name`` (a :class:`~contrastkit.encoders.towers.Towers` model)."""

    def __init__(self, model: torch.nn.Module, device: torch.device, autocast: bool, batch_size: int,
                 projected: bool = False):
        self.model, self.device, self.autocast, self.batch_size = model, device, autocast, batch_size
        self.projected = projected

    def __call__(self, inputs) -> Tensor:
        forward = self.model.forward if self.projected else getattr(self.model, "embed", self.model)
        return embed_all(forward, inputs, self.device, self.batch_size, self.autocast)

    def for_field(self, field: str, projected: bool = False) -> Callable:
        """The embedding of ``field``'s tower; ``projected``: after its head (the space the loss
        compares fields of different towers in)."""
        tower = getattr(self.model, "tower", None)
        if tower is None:
            return self
        return FieldEmbedder(tower(field), self.device, self.autocast, self.batch_size, projected)

    def for_pair(self, query: str, key: str) -> tuple[Callable, Callable]:
        """Embeddings of two fields in one space: the representation when one tower encodes both,
        else each tower's projected output."""
        name = getattr(self.model, "tower_name", None)
        projected = name is not None and name(query) != name(key)
        return self.for_field(query, projected), self.for_field(key, projected)


def embedding_function(
    model: torch.nn.Module, device: torch.device, autocast: bool = False, batch_size: int = 512
) -> FieldEmbedder:
    """``embed_fn(inputs) -> (N, d)`` of the model's representation (see :class:`FieldEmbedder`)."""
    return FieldEmbedder(model, device, autocast, batch_size)
