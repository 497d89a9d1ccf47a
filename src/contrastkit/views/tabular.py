r"""Views of tabular rows: SCARF corruption and CLAN's uniform resampling. Batched, seeded, no row loops.

**SCARF** (Bahri, Jiang, Tay, Metzler, ICLR 2022, arXiv:2106.15147, Algorithm 1). With ``M`` features and
corruption rate ``c``, let ``q = floor(c M)``. For each row ``x`` a subset ``I`` of exactly ``q`` feature
indices is drawn uniformly among all ``C(M, q)`` subsets, and

.. math::
    \tilde x_j = \begin{cases} \hat x_j \sim \hat p_j & j \in I \\ x_j & j \notin I \end{cases}

where :math:`\hat p_j` is feature ``j``'s empirical marginal on the training set: the value of feature
``j`` in a training row drawn uniformly (so values are weighted by their frequency). Categorical
features must be given as codes (one column per feature), i.e. corrupted before one-hot encoding.
The anchor is the clean row, the positive its corruption. (The popular ``pytorch-scarf`` port uses a
Bernoulli mask with probability ``1 - c`` and ``Uniform(min, max)`` replacements: not this.)

**CLAN** (Wilkie et al., IEEE CSR 2025, arXiv:2509.06550; official ``loss/augmentations.py``
``uniform_resample``): every feature of a selected row is replaced independently with probability
``p_feature`` by ``mean + Uniform(-max_value, max_value)``; rows are selected with probability
``p_sample`` (CLAN trains with ``p_feature = 0.1``, ``max_value = 1.7``, ``mean = 0``, ``p_sample = 1``
on standardised features). The augmented rows are CLAN's *negatives*.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def draw_device(generator: torch.Generator | None, default: torch.device) -> torch.device:
    """Random numbers are drawn where the generator lives (a CPU generator may drive CUDA data)."""
    return default if generator is None else generator.device


def _check_table(name: str, x: Tensor, num_features: int | None = None) -> None:
    if not isinstance(x, Tensor) or x.dim() != 2:
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name}: expected a 2-D (rows, features) tensor, got {got}")
    if num_features is not None and x.shape[1] != num_features:
        raise ValueError(f"{name}: expected {num_features} features, got {x.shape[1]}")
    if x.dtype.is_floating_point and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}: contains non-finite values")


class SCARFCorruption(nn.Module):
    """SCARF's corruption with marginals from ``train_features`` (see the module docstring).

    Args:
        train_features: ``(N_train, M)`` training table whose columns define the empirical marginals
            (kept as a non-persistent buffer, so ``.to(device)`` moves it).
        corruption_rate: ``c`` in ``(0, 1)``, default 0.6; ``floor(c M)`` must be at least 1.
    Call:
        ``(x, generator=None, return_mask=False)`` with ``x`` of shape ``(B, M)``; returns the corrupted
        copy (``x``'s dtype), plus the boolean ``(B, M)`` mask of replaced features if ``return_mask``.
    Raises:
        ValueError: for a table that is not 2-D, empty or non-finite, ``c`` outside ``(0, 1)``, ``q = 0``,
            or an ``x`` with another number of features.
    """

    def __init__(self, train_features: Tensor, corruption_rate: float = 0.6):
        super().__init__()
        _check_table("train_features", train_features)
        if train_features.shape[0] == 0 or train_features.shape[1] == 0:
            raise ValueError(f"train_features: expected at least one row and one feature, got "
                             f"{tuple(train_features.shape)}")
        if not 0.0 < corruption_rate < 1.0:
            raise ValueError(f"corruption_rate: expected c in (0, 1), got {corruption_rate!r}")
        self.num_features = train_features.shape[1]
        self.num_corrupted = math.floor(corruption_rate * self.num_features)
        if self.num_corrupted == 0:
            raise ValueError(f"corruption_rate: floor({corruption_rate} * {self.num_features} features) = 0, "
                             "so no feature would be corrupted")
        self.corruption_rate = float(corruption_rate)
        self.register_buffer("train_features", train_features.detach().clone(), persistent=False)

    @torch.no_grad()
    def forward(self, x: Tensor, generator: torch.Generator | None = None,
                return_mask: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        _check_table("x", x, self.num_features)
        rows, m = x.shape
        device = draw_device(generator, self.train_features.device)
        # a uniform random permutation per row; its first q entries are a uniform q-subset
        order = torch.rand(rows, m, generator=generator, device=device).argsort(dim=1)
        mask = torch.zeros(rows, m, dtype=torch.bool, device=device)
        mask.scatter_(1, order[:, :self.num_corrupted], True)
        donor = torch.randint(self.train_features.shape[0], (rows, m), generator=generator, device=device)
        draws = self.train_features.gather(0, donor.to(self.train_features.device))  # train[donor[b, j], j]
        mask = mask.to(x.device)
        out = torch.where(mask, draws.to(device=x.device, dtype=x.dtype), x)
        return (out, mask) if return_mask else out

    def extra_repr(self) -> str:
        return f"corruption_rate={self.corruption_rate}, num_features={self.num_features}, " \
               f"num_corrupted={self.num_corrupted}"


@torch.no_grad()
def clan_augment(x: Tensor, *, p_feature: float = 0.1, max_value: float = 1.7, mean: float = 0.0,
                 p_sample: float = 1.0, generator: torch.Generator | None = None,
                 return_mask: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    r"""CLAN's uniform resampling: :math:`\tilde x = (1 - m) \odot x + m \odot (\mu + U)`.

    :math:`m_{bj} = s_b\, f_{bj}`, :math:`f_{bj} \sim \text{Bernoulli}(p_\text{feature})`,
    :math:`s_b \sim \text{Bernoulli}(p_\text{sample})`, :math:`U_{bj} \sim \text{Uniform}(-a, a)` with
    ``a = max_value`` and :math:`\mu` = ``mean``.

    Args:
        x: ``(B, M)`` floating table (standardised features in CLAN).
        p_feature, p_sample: probabilities in ``[0, 1]``.
        max_value: half-width ``a > 0`` of the uniform noise.
        generator: a ``torch.Generator`` on ``x``'s device.
    Returns:
        The augmented table, plus the boolean mask ``m`` if ``return_mask``.
    """
    _check_table("x", x)
    if not x.dtype.is_floating_point:
        raise ValueError(f"x: expected a floating tensor, got {x.dtype}")
    for name, p in (("p_feature", p_feature), ("p_sample", p_sample)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name}: expected a probability in [0, 1], got {p!r}")
    if not max_value > 0 or not math.isfinite(max_value):
        raise ValueError(f"max_value: expected a positive finite number, got {max_value!r}")
    shape, device = x.shape, draw_device(generator, x.device)
    mask = torch.rand(shape, generator=generator, device=device) < p_feature
    if p_sample < 1.0:
        mask &= torch.rand(shape[0], 1, generator=generator, device=device) < p_sample
    uniform = torch.rand(shape, generator=generator, device=device,
                         dtype=torch.promote_types(x.dtype, torch.float32))
    noise = ((uniform * 2 - 1) * max_value + mean).to(device=x.device, dtype=x.dtype)
    mask = mask.to(x.device)
    out = torch.where(mask, noise, x)
    return (out, mask) if return_mask else out


class SCARFViews:
    """View generator ``views(x, generator) -> [x, x~]``: SCARF's clean anchor and corrupted positive.

    Args: as :class:`SCARFCorruption` (``train_features``, ``corruption_rate=0.6``).
    """

    def __init__(self, train_features: Tensor, corruption_rate: float = 0.6):
        self.corruption = SCARFCorruption(train_features, corruption_rate)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> list[Tensor]:
        return [x, self.corruption(x, generator)]


class CLANViews:
    """View generator ``views(x, generator) -> [x, x_aug]``: CLAN's originals and augmented negatives.

    Args: the keyword arguments of :func:`clan_augment` (``p_feature``, ``max_value``, ``mean``,
    ``p_sample``), validated here.
    """

    def __init__(self, **options: float):
        clan_augment(torch.zeros(1, 1), **options)  # validates the options once, at construction
        self.options = options

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> list[Tensor]:
        return [x, clan_augment(x, generator=generator, **self.options)]
