"""The evaluator protocol: built with data, called with an embedding function, returning a flat
dict of floats.

``evaluator(embed_fn)`` embeds each stored input collection in batches (``embed_fn(batch) ->
(B, d)`` tensor, called under ``torch.no_grad()``; an ``nn.Module`` is put in eval mode for the call
and given back its mode) and returns ``{f"{name}/{metric}": float}``.
``evaluator.evaluate_embeddings(*embeddings)`` does the same from precomputed embeddings, one per
input collection in constructor order. ``primary_metric`` (a full key) and ``greater_is_better``
are fixed at construction; evaluators write no files and keep no state between calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ._checks import check_positive_int

EmbedFn = Callable[[object], Tensor]


class Evaluator:
    """Base class: subclasses store ``self.inputs`` (a tuple of sliceable collections) and implement
    :meth:`metrics` on one embedding tensor per collection."""

    inputs: tuple = ()
    lower_is_better: frozenset[str] = frozenset()

    def __init__(self, name: str, primary: str, batch_size: int = 256):
        if not name or not isinstance(name, str):
            raise ValueError(f"name: expected a non-empty string, got {name!r}")
        self.name = name
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.primary_metric = f"{name}/{primary}"
        self.greater_is_better = primary.split("@")[0] not in self.lower_is_better

    def metrics(self, *embeddings) -> dict[str, float]:
        raise NotImplementedError

    def evaluate_embeddings(self, *embeddings) -> dict[str, float]:
        if len(embeddings) != len(self.inputs):
            raise ValueError(f"embeddings: {type(self).__name__} expects {len(self.inputs)} embedding "
                             f"sets, got {len(embeddings)}")
        for i, (emb, inp) in enumerate(zip(embeddings, self.inputs)):
            if len(emb) != len(inp):
                raise ValueError(f"embeddings[{i}]: expected {len(inp)} rows, got {len(emb)}")
        return {f"{self.name}/{key}": float(value) for key, value in self.metrics(*embeddings).items()}

    def __call__(self, embed_fn: EmbedFn) -> dict[str, float]:
        module = embed_fn if isinstance(embed_fn, nn.Module) else None
        was_training = module.training if module is not None else False
        if module is not None:
            module.eval()
        try:
            with torch.no_grad():
                embeddings = [self.embed(embed_fn, inputs) for inputs in self.inputs]
        finally:
            if module is not None:
                module.train(was_training)
        return self.evaluate_embeddings(*embeddings)

    def embed(self, embed_fn: EmbedFn, inputs) -> Tensor:
        """``embed_fn`` over ``inputs`` in slices of ``batch_size``, concatenated."""
        parts = []
        for start in range(0, len(inputs), self.batch_size):
            out = embed_fn(inputs[start:start + self.batch_size])
            if not isinstance(out, Tensor) or out.dim() != 2:
                raise ValueError(f"embed_fn: expected a 2-D tensor per batch, got "
                                 f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}")
            parts.append(out.detach())
        return torch.cat(parts)

    def __repr__(self) -> str:
        sizes = ", ".join(str(len(x)) for x in self.inputs)
        return f"{type(self).__name__}(name={self.name!r}, inputs=[{sizes}], primary={self.primary_metric!r})"


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {tuple(choices)}, got {value!r}")
    return value


def check_length(name: str, values, n: int, of: str) -> None:
    if not hasattr(values, "__len__") or len(values) != n:
        got = len(values) if hasattr(values, "__len__") else type(values).__name__
        raise ValueError(f"{name}: expected {n} entries (one per row of {of}), got {got}")


def check_inputs(name: str, inputs) -> None:
    if not hasattr(inputs, "__len__") or not hasattr(inputs, "__getitem__") or len(inputs) == 0:
        raise ValueError(f"{name}: expected a non-empty sliceable collection (tensor, array, list)")


def as_array(values) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)
