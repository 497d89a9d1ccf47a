"""A model as a set of named towers; each encoded field goes through the tower assigned to it."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .model import ContrastiveModel


class Towers(nn.Module):
    """Args:
        towers: ``{name: ContrastiveModel}`` (encoder + optional head each).
        assign: ``{field: tower name}``; a field not listed uses ``default``.
        default: the tower of unlisted fields (default: the first tower).

    ``forward(x, field)`` / ``embed(x, field)`` run the field's tower (what the loss sees / the
    representation). One tower shared by every field is the default model of a run.
    """

    def __init__(self, towers: dict[str, nn.Module], assign: dict[str, str] | None = None,
                 default: str | None = None):
        super().__init__()
        if not towers:
            raise ValueError("towers: expected at least one tower")
        self.towers = nn.ModuleDict(towers)
        self.assign = dict(assign or {})
        self.default = default or next(iter(towers))
        for field, name in self.assign.items():
            if name not in self.towers:
                raise ValueError(f"towers: field {field!r} names unknown tower {name!r}; "
                                 f"expected one of {list(self.towers)}")

    def train(self, mode: bool = True) -> Towers:
        """Train mode for every tower except frozen ones (``tower.frozen``), which stay in eval mode:
        no dropout, no BatchNorm statistics updates."""
        super().train(mode)
        for tower in self.towers.values():
            if getattr(tower, "frozen", False):
                tower.eval()
        return self

    def tower_name(self, field: str | None = None) -> str:
        return self.assign.get(field, self.default) if field is not None else self.default

    def tower(self, field: str | None = None) -> ContrastiveModel:
        return self.towers[self.tower_name(field)]

    def forward(self, x, field: str | None = None) -> Tensor:
        tower = self.tower(field)
        if getattr(tower, "frozen", False):  # no graph is kept for a tower that never learns
            with torch.no_grad():
                return tower(x)
        return tower(x)

    def embed(self, x, field: str | None = None) -> Tensor:
        return self.tower(field).embed(x)
