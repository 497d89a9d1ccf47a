"""An encoder followed by an optional projection head."""

from __future__ import annotations

from torch import Tensor, nn

from .text_cache import EmbeddingCache


class ContrastiveModel(nn.Module):
    """``forward`` returns ``head(encoder(x))`` (what the loss sees); ``embed`` returns
    ``encoder(x)`` (the representation used downstream). Without a head both are the same.

    ``cache``: an :class:`~contrastkit.encoders.text_cache.EmbeddingCache` for the encoder's
    outputs on strings; set it only on a frozen tower (fixed weights, eval mode: the recipe's
    builder does so for ``frozen = true``). Loading weights or moving the model empties it.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module | None = None):
        super().__init__()
        self.encoder = encoder
        self.head = head if head is not None else nn.Identity()
        self.cache: EmbeddingCache | None = None

    def forward(self, x) -> Tensor:
        return self.head(self.embed(x))

    def embed(self, x) -> Tensor:
        if self.cache is not None:
            return self.cache(self.encoder, x)
        return self.encoder(x)

    def _apply(self, fn, *args, **kwargs):  # .to(device), .half(), ...: cached rows are stale
        if getattr(self, "cache", None) is not None:
            self.cache.clear()
        return super()._apply(fn, *args, **kwargs)

    def _load_from_state_dict(self, *args, **kwargs):  # new weights: cached rows are stale
        if getattr(self, "cache", None) is not None:
            self.cache.clear()
        super()._load_from_state_dict(*args, **kwargs)
