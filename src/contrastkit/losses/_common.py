"""Shared pieces of every loss: input validation, normalisation, temperature and reduction."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..engine import accumulation_dtype, check_backend, check_false_negative_options
from ..scale.distributed import RankRows, gather_rows
from ..validation import check_embeddings, check_positive_float
from ._false_negatives import reset_count

REDUCTIONS = ("mean", "sum", "none")


def check_same_shape(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{name_b}: shape {tuple(b.shape)} does not match {name_a}'s {tuple(a.shape)}"
        )


def check_feature_dim(name: str, x: Tensor, d: int) -> None:
    if x.shape[-1] != d:
        raise ValueError(f"{name}: feature size {x.shape[-1]} does not match the embeddings' {d}")


def check_index_vector(name: str, x: Tensor | None, n: int, device: torch.device) -> Tensor | None:
    """Validate labels / ids: a 1-D integer tensor of length ``n``; returned as int64 on ``device``."""
    if x is None:
        return None
    if not isinstance(x, Tensor):
        x = torch.as_tensor(x)
    if x.dim() != 1 or x.shape[0] != n:
        raise ValueError(f"{name}: expected a 1-D tensor of length {n}, got shape {tuple(x.shape)}")
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise ValueError(f"{name}: expected an integer tensor, got {x.dtype}")
    return x.to(device=device, dtype=torch.long)


def dense_codes(*vectors: Tensor) -> list[Tensor]:
    """Map arbitrary integer labels (possibly negative) jointly to ``0..L-1`` so that ``-1`` can
    mean "no label" inside the engine."""
    sizes = [v.numel() for v in vectors]
    _, codes = torch.unique(torch.cat(vectors), return_inverse=True)
    return list(torch.split(codes, sizes))


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def reduce(per_anchor: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return per_anchor.mean()
    if reduction == "sum":
        return per_anchor.sum()
    return per_anchor


def normalize(x: Tensor, enabled: bool = True) -> Tensor:
    """``x / max(||x||_2, 1e-12)`` along the last dimension (docs/formulas.md, Normalisation),
    computed in float32 (float64 stays float64) so that half-precision inputs lose nothing before
    the engine.
    Rows whose largest entry exceeds 1 are first divided by it (a detached constant: the result
    and its gradient are unchanged) so that ``||x||^2`` cannot overflow to inf and give 0."""
    x = x.to(accumulation_dtype(x))
    if not enabled:
        return x
    largest = x.detach().abs().amax(dim=-1, keepdim=True).clamp(min=1)
    return F.normalize(x / largest, dim=-1, eps=1e-12)


class Temperature(nn.Module):
    """A temperature ``tau``, fixed or learnable; learnable values are stored as ``log tau``.

    ``scale()`` returns ``1 / tau``: an exact Python float when fixed, a 0-d tensor on the
    parameter's device when learnable.
    """

    def __init__(self, temperature: float, learnable: bool = False, name: str = "temperature"):
        super().__init__()
        temperature = check_positive_float(name, temperature)
        log_tau = torch.tensor(math.log(temperature), dtype=torch.float32)
        if learnable:
            self.log_temperature = nn.Parameter(log_tau)
        else:
            self.register_buffer("log_temperature", log_tau)
        self.learnable = learnable
        self._fixed = None if learnable else temperature

    @property
    def value(self) -> float:
        if self._fixed is not None:
            return self._fixed
        return float(self.log_temperature.detach().exp())

    def scale(self) -> Tensor | float:
        if self._fixed is not None:
            return 1.0 / self._fixed
        return torch.exp(-self.log_temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.value:.4g}, learnable={self.learnable}"


class ContrastiveLoss(nn.Module):
    """Base of the engine-backed losses: holds temperature, normalisation, reduction and backend.

    ``gather_distributed=True`` scores the local anchors against candidates gathered from every
    rank, with gradient (:mod:`contrastkit.scale.distributed`); with ``reduction="mean"`` each rank
    returns its share of the mean over all ranks' anchors, scaled so that DDP's gradient average
    gives the full-batch gradient (uneven per-rank batches included). A loss adopts it by setting
    ``supports_gather_distributed = True`` and using :meth:`gather` and :meth:`reduce_rows`.
    """

    supports_gather_distributed = False
    #: softmax-type losses take ``false_negative_margin`` / ``false_negative_threshold``
    #: (:mod:`._false_negatives`).
    supports_false_negatives = False

    def __init__(self, temperature: float, *, learnable_temperature: bool = False,
                 normalize: bool = True, reduction: str = "mean", backend: str = "auto",
                 tile_size: int | None = None, gather_distributed: bool = False,
                 false_negative_margin: float | None = None, false_negative_threshold: float | None = None):
        super().__init__()
        if gather_distributed and not self.supports_gather_distributed:
            raise ValueError(f"gather_distributed: {type(self).__name__} does not support it yet")
        self.false_negative_margin, self.false_negative_threshold = check_false_negative_options(
            false_negative_margin, false_negative_threshold)
        for name, value in (("false_negative_margin", false_negative_margin),
                            ("false_negative_threshold", false_negative_threshold)):
            if value is not None and not self.supports_false_negatives:
                raise ValueError(f"{name}: {type(self).__name__} is not a softmax-type loss")
        self.false_negative_count: Tensor | None = None
        self.register_forward_pre_hook(reset_count)
        self.gather_distributed = bool(gather_distributed)
        self.temperature = Temperature(temperature, learnable_temperature)
        self.normalize = bool(normalize)
        self.reduction = check_reduction(reduction)
        self.backend = check_backend(backend)
        if tile_size is not None and (not isinstance(tile_size, int) or tile_size < 1):
            raise ValueError(f"tile_size: expected a positive int or None, got {tile_size!r}")
        self.tile_size = tile_size

    def engine_options(self) -> dict:
        """Keyword arguments forwarded to :func:`contrastkit.engine.pair_statistics`."""
        return {"backend": self.backend, "tile_size": self.tile_size}

    def gather(self, *tensors: Tensor | None) -> tuple[list[Tensor | None], RankRows]:
        """Row-aligned candidates (embeddings, labels, ids) from every rank when
        ``gather_distributed``; otherwise unchanged. Also returns where the local rows sit."""
        if not self.gather_distributed:
            given = next(t for t in tensors if t is not None)
            return list(tensors), RankRows(0, given.shape[0], given.shape[0], 1)
        return gather_rows(*tensors)

    def reduce_rows(self, per_anchor: Tensor, rows: RankRows) -> Tensor:
        """:func:`reduce` over the local anchors; ``mean`` is the rank's share of the global mean."""
        if self.reduction == "mean" and self.gather_distributed:
            return rows.mean(per_anchor)
        return reduce(per_anchor, self.reduction)

    def prepare(self, name: str, x: Tensor, ndim: int = 2) -> Tensor:
        """Validate and (unless ``normalize=False``) L2-normalise one embedding input."""
        return normalize(check_embeddings(name, x, ndim), self.normalize)
