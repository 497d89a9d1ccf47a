"""DCLR: SimCSE-style InfoNCE with Gaussian noise negatives refined by gradient ascent, and false
negatives weighted out."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..engine import PairStructure
from ._common import ContrastiveLoss, check_positive_float, check_same_shape, reduce
from ._false_negatives import statistics


class DCLR(ContrastiveLoss):
    r"""DCLR (Zhou, Zhang, Zhao & Wen, ACL 2022, "Debiased Contrastive Learning of Unsupervised
    Sentence Representations", arXiv:2205.00656).

    .. math::
        \ell_i = -\log\frac{e^{s(h_i, h_i^+)}}
            {\sum_j \alpha_{ij}\, e^{s(h_i, h_j^+)} + \sum_{k=1}^{K} e^{s(h_i, \tilde h_k)}},\qquad
        \alpha_{ij} = \begin{cases}0 & j\ne i,\ \cos(h_i, h_j^+) > \varphi\\ 1 & \text{otherwise}\end{cases}

    Noise negatives :math:`\tilde h_k` are drawn from :math:`\mathcal{N}(0, \sigma^2 I)` and moved
    ``ascent_steps`` times by :math:`\tilde h \leftarrow \tilde h + \beta\, g / \lVert g\rVert_2` with
    :math:`g = \nabla_{\tilde h}\,\mathcal{L}` (the loss above on the detached batch: gradient ascent
    makes them harder), then enter the denominator without gradient. Choices where this
    implementation departs from the paper or the paper is open: :math:`\alpha_{ij}` is read from the
    model's own detached cosines (the paper uses a frozen complementary SimCSE model; pass its
    judgement through :class:`InfoNCE`'s ``ids`` if it is available); the weighting is the engine's
    rule 6 (``false_negative_threshold = phi``), so excluded pairs leave every sum and are counted in
    ``loss.false_negative_count``; the gradient norm is taken per noise vector; the noise is drawn
    from ``generator`` (or the global RNG).

    Args:
        temperature: :math:`\tau > 0` (default 0.05).
        num_noise: ``K >= 1`` noise negatives per batch (default 16).
        noise_std: :math:`\sigma > 0` (default 1.0).
        ascent_steps: ``>= 0`` (default 1); ascent_step: :math:`\beta > 0` (default 1.0).
        phi: :math:`\varphi`, a finite cosine (default 0.9), or ``None`` for no weighting.
        learnable_temperature, normalize, reduction, backend, tile_size: see
            :class:`~contrastkit.losses.InfoNCE`.
    Shapes:
        anchor, positive ``(N, d)``.
    Raises:
        ValueError: names the argument, for bad shapes, non-finite input or an option out of range.
    """

    supports_false_negatives = True

    def __init__(self, temperature: float = 0.05, num_noise: int = 16, noise_std: float = 1.0,
                 ascent_steps: int = 1, ascent_step: float = 1.0, phi: float | None = 0.9,
                 generator: torch.Generator | None = None, **options):
        if phi is not None and (isinstance(phi, bool) or not isinstance(phi, (int, float))
                                or not float("-inf") < float(phi) < float("inf")):
            raise ValueError(f"phi: expected a finite cosine or None, got {phi!r}")
        super().__init__(temperature, false_negative_threshold=phi, **options)
        for name, value, low in (("num_noise", num_noise, 1), ("ascent_steps", ascent_steps, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
        self.num_noise, self.ascent_steps = num_noise, ascent_steps
        self.noise_std = check_positive_float("noise_std", noise_std)
        self.ascent_step = check_positive_float("ascent_step", ascent_step)
        self.generator = generator

    def _terms(self, h: Tensor, candidates: Tensor, n: int) -> Tensor:
        structure = PairStructure(n, candidates.shape[0], pos_index=torch.arange(n, device=h.device))
        stats = statistics(self, h, candidates, structure, {"lse_all", "pos_sum"},
                           scale=self.temperature.scale(), **self.engine_options())
        return stats.lse_all - stats.pos_sum

    def noise(self, h: Tensor, h_pos: Tensor) -> Tensor:
        """The ``K`` noise negatives after gradient ascent (detached, normalised as the inputs)."""
        noise = torch.randn(self.num_noise, h.shape[1], generator=self.generator, dtype=h.dtype)
        noise = noise.to(h.device) * self.noise_std
        for _ in range(self.ascent_steps):
            leaf = noise.clone().requires_grad_(True)
            with torch.enable_grad():
                candidates = torch.cat([h_pos.detach(), self._norm(leaf)])
                loss = self._terms(h.detach(), candidates, h.shape[0]).sum()
                (grad,) = torch.autograd.grad(loss, leaf)
            noise = noise + self.ascent_step * grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return self._norm(noise).detach()

    def _norm(self, x: Tensor) -> Tensor:
        return F.normalize(x, dim=-1, eps=1e-12) if self.normalize else x

    def forward(self, anchor: Tensor, positive: Tensor) -> Tensor:
        h, h_pos = self.prepare("anchor", anchor), self.prepare("positive", positive)
        check_same_shape("anchor", h, "positive", h_pos)
        noise = self.noise(h, h_pos)
        self.false_negative_count = None  # count the final pass only, not the ascent passes
        return reduce(self._terms(h, torch.cat([h_pos, noise]), h.shape[0]), self.reduction)
