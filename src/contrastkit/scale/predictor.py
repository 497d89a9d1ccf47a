"""The prediction head of BYOL and SimSiam: a two-layer MLP with a BatchNorm'd hidden layer."""

from __future__ import annotations

from torch import Tensor, nn


class Predictor(nn.Module):
    r"""``Linear(dim, hidden) -> BatchNorm1d -> ReLU -> Linear(hidden, out)``.

    BYOL (Grill et al., 2020, arXiv:2006.07733, Sec. 3.3): ``hidden=4096``, ``out=256`` (the
    projection size); SimSiam (Chen & He, 2021, arXiv:2011.10566, Sec. 4): a bottleneck,
    ``dim=2048``, ``hidden=512``, ``out=2048``. Its output is compared with the other view's
    (stop-gradient or momentum) target by :class:`contrastkit.losses.NegativeCosine`.

    Args:
        dim: input size (the projector's output).
        hidden: hidden size.
        out: output size (default ``dim``).
    Raises:
        ValueError: for a size that is not a positive int.
    """

    def __init__(self, dim: int, hidden: int, out: int | None = None):
        super().__init__()
        out = dim if out is None else out
        for name, value in (("dim", dim), ("hidden", hidden), ("out", out)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, out))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
