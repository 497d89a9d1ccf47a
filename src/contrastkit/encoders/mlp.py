"""Multi-layer perceptrons: a generic MLP encoder and the SimCLR projection head."""

from __future__ import annotations

import itertools

from torch import Tensor, nn


class MLP(nn.Module):
    """``Linear -> [BatchNorm] -> ReLU`` for each hidden size, then a final ``Linear``.

    Args:
        input_dim: input features.
        hidden_dims: sizes of the hidden layers (may be empty: a linear map).
        output_dim: output features.
        batch_norm: insert ``BatchNorm1d`` after each hidden linear layer.
    Shapes:
        ``(N, input_dim)`` -> ``(N, output_dim)``; inputs with more dimensions are flattened after dim 0.
    """

    config_keys = ("input_dim", "hidden_dims", "output_dim", "batch_norm")

    def __init__(
        self,
        input_dim: int,
        hidden_dims: list[int] | tuple[int, ...] = (),
        output_dim: int = 128,
        batch_norm: bool = True,
    ):
        super().__init__()
        sizes = [input_dim, *hidden_dims, output_dim]
        for name, value in zip(("input_dim", *["hidden_dims"] * len(hidden_dims), "output_dim"), sizes):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected positive ints, got {value!r}")
        self.input_dim, self.output_dim = input_dim, output_dim
        self.hidden_dims = list(hidden_dims)
        self.batch_norm = bool(batch_norm)
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes[:-1]):
            layers.append(nn.Linear(a, b, bias=not self.batch_norm))
            if self.batch_norm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Linear(sizes[-2], sizes[-1]))
        self.layers = nn.Sequential(*layers)

    @property
    def embedding_dim(self) -> int:
        return self.output_dim

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(1)
        if x.shape[1] != self.input_dim:
            raise ValueError(f"x: expected {self.input_dim} features, got {x.shape[1]}")
        return self.layers(x)


class ProjectionHead(MLP):
    """The SimCLR projection head ``g(h) = W2 ReLU(BN(W1 h))`` (Chen et al., 2020,
    arXiv:2002.05709, Sec. 2.1): the loss sees ``g(h)``, downstream tasks use ``h``."""

    config_keys = ("input_dim", "hidden_dim", "output_dim", "batch_norm")

    def __init__(self, input_dim: int, hidden_dim: int = 128, output_dim: int = 64, batch_norm: bool = True):
        super().__init__(input_dim, [hidden_dim], output_dim, batch_norm)
        self.hidden_dim = hidden_dim
