"""An encoder followed by an optional projection head."""

from __future__ import annotations

from torch import Tensor, nn


class ContrastiveModel(nn.Module):
    """``forward`` returns ``head(encoder(x))`` (what the loss sees); ``embed`` returns
    ``encoder(x)`` (the representation used downstream). Without a head both are the same."""

    def __init__(self, encoder: nn.Module, head: nn.Module | None = None):
        super().__init__()
        self.encoder = encoder
        self.head = head if head is not None else nn.Identity()

    def forward(self, x) -> Tensor:
        return self.head(self.encoder(x))

    def embed(self, x) -> Tensor:
        return self.encoder(x)
