"""Noise-contrastive estimation and negative sampling for matching texts to label descriptions."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..validation import check_embeddings, check_positive_float
from ._common import check_feature_dim, check_index_vector, check_reduction, normalize, reduce

VARIANTS = ("nce", "negative_sampling")


def check_noise(noise) -> Tensor:
    """A float64 ``(C,)`` noise distribution: every entry in ``(0, 1]``, summing to 1 (to 1e-6)."""
    noise = torch.as_tensor(noise)
    if noise.dim() != 1 or noise.numel() < 1 or not noise.is_floating_point():
        raise ValueError(f"noise: expected a 1-D floating tensor of probabilities, got {noise.dtype} "
                         f"of shape {tuple(noise.shape)}")
    noise = noise.detach().to(torch.float64)
    if not bool(((noise > 0) & (noise <= 1)).all()):
        raise ValueError("noise: expected every probability in (0, 1]")
    if abs(float(noise.sum()) - 1.0) > 1e-6:
        raise ValueError(f"noise: expected probabilities summing to 1, got {float(noise.sum()):.8g}")
    return noise


class NCE(nn.Module):
    r"""Noise-contrastive estimation of a text-to-label score, and its negative-sampling variant.

    Sources: Gutmann & Hyvärinen, "Noise-contrastive estimation of unnormalized statistical
    models", JMLR 13 (2012), Eq. 8 with :math:`\nu = k` noise samples per data point, in the
    conditional form of Mnih & Teh, ICML 2012 (Eq. 4-6); negative sampling: Mikolov et al., NeurIPS
    2013, "Distributed Representations of Words and Phrases", Eq. 4. Text ``i`` (anchor) is matched
    against the embeddings of ``C`` label descriptions; its true label ``y_i`` is the data sample
    and ``k`` labels drawn from the noise distribution ``q`` are the noise samples:

    .. math::
        s_{ij} = \langle \hat t_i, \hat e_j\rangle/\tau,\qquad
        \Delta_{ij} = s_{ij} - \log(k\,q_j)\ (\texttt{"nce"})\quad\text{or}\quad
        \Delta_{ij} = s_{ij}\ (\texttt{"negative\_sampling"})

        \ell_i = -\log\sigma(\Delta_{i y_i}) - \sum_{m=1}^{k}\log\sigma(-\Delta_{i n_{im}}),
        \qquad n_{im}\sim q

    With ``noise_samples`` given, the sum runs over those samples; without, over its expectation
    :math:`k\sum_{j=1}^{C} q_j\,(-\log\sigma(-\Delta_{ij}))`, which is exact and deterministic (the
    objective that sampling estimates). Choices where the sources leave it open: a noise draw may
    be the true label (as in NCE's derivation, which needs no rejection); the scores are cosine
    similarities over a temperature (``normalize=False``: raw inner products). Every term is a
    softplus, so the value is non-negative.

    The candidates are the ``C`` label descriptions, not a batch, so the ``N x C`` scores are
    formed directly; the per-label offset :math:`\log(kq_j)` and weight :math:`q_j` are not among
    the engine's pair statistics.

    Args:
        noise: ``(C,)`` noise probabilities, each in ``(0, 1]``, summing to 1 (e.g. label frequencies).
        num_noise: ``k >= 1`` noise samples per text (default 5).
        temperature: ``tau > 0`` (default 0.1).
        variant: ``"nce"`` (default) or ``"negative_sampling"``.
        normalize: L2-normalise texts and label embeddings (default True).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (``(N,)``).
    Shapes:
        text ``(N, d)``; label_embeddings ``(C, d)``; labels ``(N,)`` integers in ``[0, C)``;
        noise_samples ``(N, k)`` integers in ``[0, C)`` (:meth:`sample_noise` draws them).
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, a label or noise sample
        outside ``[0, C)``, a probability outside ``(0, 1]``, ``num_noise < 1`` or ``temperature <= 0``.
    """

    def __init__(self, noise, num_noise: int = 5, temperature: float = 0.1, variant: str = "nce",
                 normalize: bool = True, reduction: str = "mean"):
        super().__init__()
        if isinstance(num_noise, bool) or not isinstance(num_noise, int) or num_noise < 1:
            raise ValueError(f"num_noise: expected an int >= 1, got {num_noise!r}")
        if variant not in VARIANTS:
            raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
        self.register_buffer("noise", check_noise(noise))
        self.num_noise, self.variant = num_noise, variant
        self.temperature = check_positive_float("temperature", temperature)
        self.normalize, self.reduction = bool(normalize), check_reduction(reduction)

    def sample_noise(self, num_texts: int, generator: torch.Generator | None = None) -> Tensor:
        """``(num_texts, k)`` label indices drawn from the noise distribution, with replacement."""
        draws = torch.multinomial(self.noise.cpu(), num_texts * self.num_noise, replacement=True,
                                  generator=generator)
        return draws.view(num_texts, self.num_noise).to(self.noise.device)

    def forward(self, text: Tensor, label_embeddings: Tensor, labels: Tensor,
                noise_samples: Tensor | None = None) -> Tensor:
        check_embeddings("text", text)
        check_embeddings("label_embeddings", label_embeddings)
        check_feature_dim("label_embeddings", label_embeddings, text.shape[1])
        c = label_embeddings.shape[0]
        if c != self.noise.numel():
            raise ValueError(f"label_embeddings: {c} labels, but the noise distribution has "
                             f"{self.noise.numel()}")
        n = text.shape[0]
        labels = check_index_vector("labels", labels, n, text.device)
        if bool(((labels < 0) | (labels >= c)).any()):
            raise ValueError(f"labels: expected label indices in [0, {c})")
        t = normalize(text, self.normalize)
        e = normalize(label_embeddings, self.normalize).to(t.dtype)
        scores = t @ e.T / self.temperature  # (N, C)
        q = self.noise.to(device=t.device, dtype=t.dtype)
        if self.variant == "nce":
            scores = scores - torch.log(self.num_noise * q)
        data = F.softplus(-scores.gather(1, labels[:, None]))[:, 0]
        if noise_samples is None:
            noise_term = self.num_noise * (F.softplus(scores) * q).sum(dim=1)
        else:
            noise_samples = self._check_samples(noise_samples, n, c, t.device)
            noise_term = F.softplus(scores.gather(1, noise_samples)).sum(dim=1)
        return reduce(data + noise_term, self.reduction)

    def _check_samples(self, samples: Tensor, n: int, c: int, device: torch.device) -> Tensor:
        if not isinstance(samples, Tensor):
            samples = torch.as_tensor(samples)
        if samples.shape != (n, self.num_noise) or samples.is_floating_point() or samples.is_complex() \
                or samples.dtype == torch.bool:
            raise ValueError(f"noise_samples: expected an integer tensor of shape ({n}, {self.num_noise}), "
                             f"got {samples.dtype} of shape {tuple(samples.shape)}")
        samples = samples.to(device=device, dtype=torch.long)
        if bool(((samples < 0) | (samples >= c)).any()):
            raise ValueError(f"noise_samples: expected label indices in [0, {c})")
        return samples

    def extra_repr(self) -> str:
        return (f"labels={self.noise.numel()}, num_noise={self.num_noise}, "
                f"temperature={self.temperature:g}, variant={self.variant!r}")

