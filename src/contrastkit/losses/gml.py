"""GML: long-tail contrastive loss over class-wise mean similarities with class-prior logit adjustment."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..validation import check_embeddings, check_positive_float
from ._common import check_feature_dim, check_index_vector, check_reduction, normalize, reduce
from .nce import check_noise


def class_log_mean_exp(logits: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """``(N, C)``: ``log mean_{j: labels_j = c} exp(logits_ij)``, ``-inf`` for a class with no column;
    each class is shifted by its own row maximum, so no class underflows to ``-inf``."""
    n = logits.shape[0]
    index = labels[None, :].expand(n, -1)
    fill = torch.full((n, num_classes), float("-inf"), dtype=logits.dtype, device=logits.device)
    top = fill.scatter_reduce(1, index, logits.detach(), reduce="amax")
    shifted = torch.exp(logits - top.gather(1, index))
    sums = torch.zeros_like(top).scatter_add(1, index, shifted)
    counts = torch.bincount(labels, minlength=num_classes).to(logits.dtype)
    present = counts > 0
    safe = torch.where(present, sums, torch.ones_like(sums))
    top = torch.where(present, top, torch.zeros_like(top))
    value = torch.log(safe) - torch.log(counts.clamp_min(1)) + top
    return torch.where(present, value, torch.full_like(value, float("-inf")))


class GML(nn.Module):
    r"""The contrastive term of GML (Suh & Seo, ICML 2023, "Long-Tailed Recognition by Mutual
    Information Maximization between Latent Features and Ground-Truth Labels", arXiv:2305.01160;
    its contrastive loss, as the authors' ``GMLLoss``; equation numbers not re-checked).

    A query is classified by its mean exponentiated similarity to the keys of each class, with the
    class prior added as a logit adjustment (Menon et al. 2021), so that head classes with many
    keys do not dominate:

    .. math::
        S_{ic} = \frac{1}{|K_c|}\sum_{j\in K_c} e^{\langle \hat q_i, \hat k_j\rangle/\tau},\qquad
        \ell_i = -\log\frac{\pi_{y_i}\,S_{i y_i}}{\sum_{c:\,K_c\neq\emptyset} \pi_c\,S_{ic}}

    with :math:`K_c` the keys of class ``c`` and :math:`\pi` the class prior (training-set class
    frequencies). The value is a cross-entropy, so non-negative. Choices: as the authors' code
    (bluecdm/Long-tailed-recognition, ``GMLLoss``: ``logS_x_y + log(cls_weight)``), every key
    enters, the query's own key included; a class with no key in the batch or queue has no mean
    and is left out of the sum (the official code divides 0 by 0 there); a query whose own class
    has no key is a ``ValueError``. The paper's supervised logit-adjusted cross-entropy and the
    second, feature-detached term that learns the temperature are the caller's (``temperature``
    here is fixed).

    The per-class log-mean-exp (``C`` values per anchor) is not one of the engine's statistics;
    the ``N x M`` logits are formed directly.

    Args:
        class_prior: ``(C,)`` probabilities, each in ``(0, 1]``, summing to 1.
        temperature: ``tau > 0`` (default 0.1).
        normalize: L2-normalise queries and keys (default True).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (``(N,)``).
    Shapes:
        query ``(N, d)``; labels ``(N,)`` in ``[0, C)``; key ``(M, d)``; key_labels ``(M,)`` in
        ``[0, C)`` (e.g. the momentum encoder's keys and a queue).
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, a label outside
        ``[0, C)``, a query class with no key, a prior outside ``(0, 1]`` or ``temperature <= 0``.
    """

    def __init__(self, class_prior, temperature: float = 0.1, normalize: bool = True,
                 reduction: str = "mean"):
        super().__init__()
        try:
            prior = check_noise(class_prior)
        except ValueError as error:
            raise ValueError(str(error).replace("noise", "class_prior", 1)) from None
        self.register_buffer("log_prior", prior.log())
        self.temperature = check_positive_float("temperature", temperature)
        self.normalize, self.reduction = bool(normalize), check_reduction(reduction)

    def forward(self, query: Tensor, labels: Tensor, key: Tensor, key_labels: Tensor) -> Tensor:
        check_embeddings("query", query)
        check_embeddings("key", key)
        check_feature_dim("key", key, query.shape[1])
        c = self.log_prior.numel()
        labels = self._labels("labels", labels, query.shape[0], c, query.device)
        key_labels = self._labels("key_labels", key_labels, key.shape[0], c, query.device)
        q = normalize(query, self.normalize)
        k = normalize(key, self.normalize).to(q.dtype)
        per_class = class_log_mean_exp(q @ k.T / self.temperature, key_labels, c)
        missing = torch.bincount(key_labels, minlength=c)[labels] == 0
        if bool(missing.any()):
            row = int(missing.nonzero()[0, 0])
            raise ValueError(f"key_labels: no key of class {int(labels[row])}, the class of query {row}")
        adjusted = per_class + self.log_prior.to(q.dtype)
        per_query = torch.logsumexp(adjusted, dim=1) - adjusted.gather(1, labels[:, None])[:, 0]
        return reduce(per_query.clamp_min(0), self.reduction)

    @staticmethod
    def _labels(name: str, labels: Tensor, n: int, c: int, device) -> Tensor:
        labels = check_index_vector(name, labels, n, device)
        if bool(((labels < 0) | (labels >= c)).any()):
            raise ValueError(f"{name}: expected class indices in [0, {c})")
        return labels

    def extra_repr(self) -> str:
        return f"classes={self.log_prior.numel()}, temperature={self.temperature:g}"
