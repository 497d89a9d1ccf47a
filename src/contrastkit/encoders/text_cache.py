"""Outputs of a frozen encoder on repeated strings, computed once.

A frozen tower (``[towers.NAME] frozen = true``) has fixed weights and runs in eval mode, so its
encoder maps a given caption to the same vector at every step. Captions generated from class
labels repeat: the ``clip-fashion-mnist`` recipe has under 200 distinct captions, and without a
cache every batch of 256 sent them all through MiniLM again (measured: most of a training step).
:class:`EmbeddingCache` keeps one row per distinct string and sends only strings it has not seen
through the encoder, in one call.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def is_text_batch(x) -> bool:
    """A non-empty list or tuple of strings (a batch of texts)."""
    return isinstance(x, list | tuple) and len(x) > 0 and all(isinstance(t, str) for t in x)


class EmbeddingCache:
    """``cache(encode, texts)`` = ``encode(texts)``, each distinct string encoded once.

    Only strings are cached (any other input goes straight to ``encode``); at most ``max_entries``
    rows are kept (once full, new strings are encoded every time, as without a cache). Rows equal
    the uncached ones up to float rounding: a string is encoded in a batch padded to a different
    length than the one it would be padded to later (attention masks out the padding). ``clear()``
    forgets every row (the owner calls it when the weights or the device change).
    """

    def __init__(self, max_entries: int = 100_000):
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries: expected a positive int, got {max_entries!r}")
        self.max_entries = max_entries
        self.rows: dict[str, Tensor] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def clear(self) -> None:
        self.rows.clear()

    def __call__(self, encode: Callable[[list[str]], Tensor], texts) -> Tensor:
        if not is_text_batch(texts):
            return encode(texts)
        new = list(dict.fromkeys(t for t in texts if t not in self.rows))
        fresh: dict[str, Tensor] = {}
        if new:
            with torch.no_grad():
                fresh = dict(zip(new, encode(new).detach()))
            if len(self.rows) + len(new) <= self.max_entries:
                self.rows.update(fresh)
        return torch.stack([self.rows[t] if t in self.rows else fresh[t] for t in texts])
