"""One micro-batch of named fields through its views and towers: ``{field: [V outputs]}``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..data.fields import encoded_fields
from .batching import derived_seed, step_generator
from .embedding import to_device
from .steps import forward_views


def field_generator(seed: int, micro_batch: int, rank: int, position: int) -> torch.Generator:
    """Views' random generator of the ``position``-th field (the first field's is the generator
    single-input runs have always used, so their numbers do not change)."""
    if position == 0:
        return step_generator(seed, micro_batch, rank)
    return torch.Generator().manual_seed(derived_seed(seed, micro_batch, rank, 1, position))


def flatten_negatives(value) -> list | Tensor:
    """Every row's negatives (a list per row) as one list, or a tensor ``(N, K, ...)`` as ``(N*K, ...)``."""
    if isinstance(value, Tensor):
        return value.flatten(0, 1)
    return [item for row in value for item in row]


def view_batches(batch: dict, fields, views: dict[str, Callable], device, seed: int, micro_batch: int,
                 rank: int) -> dict[str, list]:
    """``{field: list of view inputs}`` for each encoded field (one "view" where none are configured);
    an empty ``negatives`` field is left out."""
    out = {}
    for position, field in enumerate(encoded_fields(fields)):
        value = batch[field]
        if field == "negatives":
            value = flatten_negatives(value)
            if len(value) == 0:
                continue
        value = to_device(value, device)
        transform = views.get(field)
        if transform is None:
            out[field] = [value]
        else:
            out[field] = transform(value, field_generator(seed, micro_batch, rank, position))
    return out


def encode(model: nn.Module, inputs: dict[str, list], towers: bool) -> dict[str, list[Tensor]]:
    """Every field's view inputs through its tower (``model(x, field)`` when ``towers``)."""
    out = {}
    for field, views in inputs.items():
        forward = (lambda x, f=field: model(x, field=f)) if towers else model
        out[field] = [z.float() if isinstance(z, Tensor) else z for z in forward_views(forward, views)]
    return out
