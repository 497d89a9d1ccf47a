"""Multi-layer perceptrons: tabular encoders and projection heads.

SCARF (Bahri, Jiang, Tay, Metzler, 2022, arXiv:2106.15147, Sec. 4) uses a 4-layer ReLU MLP of width
256 as the encoder ``f`` and a 2-layer ReLU MLP of width 256 as the pre-training head ``g``;
:func:`scarf_encoder` and :func:`scarf_head` build those. SimCLR's projection head (Chen et al., 2020,
arXiv:2002.05709) is ``MLP(d, d, d_out, num_layers=2)``.
"""

from __future__ import annotations

from torch import Tensor, nn

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU,
                "silu": nn.SiLU}
_NORMS = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}


class MLP(nn.Module):
    """``num_layers`` linear layers; between two of them: [norm] -> activation -> [dropout].

    .. code-block:: text

        x -> Linear(in_dim, hidden_dim) -> [norm] -> act -> [dropout] -> ... -> Linear(hidden_dim, out_dim)

    With ``final_activation=True`` the last linear layer is followed by the same [norm] -> activation.
    ``num_layers=1`` is a single ``Linear(in_dim, out_dim)``.

    Args:
        in_dim, hidden_dim, out_dim: feature sizes (positive integers).
        num_layers: number of linear layers (>= 1).
        activation: ``relu``, ``gelu``, ``tanh``, ``leaky_relu`` or ``silu``.
        norm: ``None``, ``"batch"`` (BatchNorm1d) or ``"layer"`` (LayerNorm), before each activation.
        dropout: dropout probability after each hidden activation, in ``[0, 1)``.
        bias: whether the linear layers have a bias.
    Shapes:
        input ``(..., in_dim)`` (``(N, in_dim)`` with ``norm="batch"``), output ``(..., out_dim)``.
    Raises:
        ValueError: naming the argument, for a non-positive size, unknown activation / norm, or a
            dropout outside ``[0, 1)``; at call time for an input whose last dimension is not ``in_dim``.
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 2, *,
                 activation: str = "relu", norm: str | None = None, dropout: float = 0.0,
                 final_activation: bool = False, bias: bool = True):
        super().__init__()
        for name, value in (("in_dim", in_dim), ("hidden_dim", hidden_dim), ("out_dim", out_dim),
                            ("num_layers", num_layers)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected one of {tuple(_ACTIVATIONS)}, got {activation!r}")
        if norm is not None and norm not in _NORMS:
            raise ValueError(f"norm: expected None, 'batch' or 'layer', got {norm!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)
        sizes = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        layers: list[nn.Module] = []
        for i in range(num_layers):
            layers.append(nn.Linear(sizes[i], sizes[i + 1], bias=bias))
            last = i == num_layers - 1
            if not last or final_activation:
                if norm is not None:
                    layers.append(_NORMS[norm](sizes[i + 1]))
                layers.append(_ACTIVATIONS[activation]())
                if dropout > 0 and not last:
                    layers.append(nn.Dropout(dropout))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 1 or x.shape[-1] != self.in_dim:
            raise ValueError(f"x: expected last dimension {self.in_dim}, got shape {tuple(x.shape)}")
        return self.layers(x)


def scarf_encoder(in_dim: int, width: int = 256, num_layers: int = 4, **options) -> MLP:
    """SCARF's encoder ``f``: a ``num_layers``-layer ReLU MLP of ``width`` units, ending in an activation."""
    return MLP(in_dim, width, width, num_layers, final_activation=True, **options)


def scarf_head(in_dim: int = 256, width: int = 256, num_layers: int = 2, **options) -> MLP:
    """SCARF's pre-training head ``g``: a ``num_layers``-layer ReLU MLP of ``width`` units (linear output)."""
    return MLP(in_dim, width, width, num_layers, **options)
