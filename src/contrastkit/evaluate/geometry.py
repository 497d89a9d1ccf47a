r"""Geometry of an embedding set: alignment, uniformity, effective rank, singular-value spectrum and
anisotropy. All accept tensors (any device) or NumPy arrays and return Python floats (the
spectrum: a NumPy array); none builds an ``N x N`` matrix.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..losses import geometry as _losses
from ._checks import as_embeddings

GRAM_CHUNK = 16384
DIRECT_SVD_ROWS = 8192


def alignment(x, y, alpha: float = 2) -> float:
    r"""Alignment (Wang & Isola, 2020, arXiv:2005.10242) of positive pairs, lower is better:
    :math:`\frac1N\sum_i\lVert\hat x_i-\hat y_i\rVert_2^\alpha` on L2-normalised rows. Same
    computation as :func:`contrastkit.losses.alignment`."""
    x, y = as_embeddings("x", x), as_embeddings("y", y)
    with torch.no_grad():
        return float(_losses.alignment(x, y, alpha))


def uniformity(x, t: float = 2, *, tile_size: int | None = None) -> float:
    r"""Uniformity (Wang & Isola, 2020, arXiv:2005.10242):
    :math:`\log\frac{2}{N(N-1)}\sum_{i<j}e^{-t\lVert\hat x_i-\hat x_j\rVert^2}`; lower is better.

    :func:`contrastkit.losses.uniformity` without gradient: one engine log-sum-exp statistic, streamed
    over tiles for large ``N`` (memory ``O(N d + tile^2)``; ``tile_size`` forces the streaming
    backend), so it stays finite (``>= -4t``) where ``mean(exp(.))`` underflows.
    """
    x = as_embeddings("x", x)
    with torch.no_grad():
        return float(_losses.uniformity(x, t, tile_size=tile_size))


def singular_values(x, *, center: bool = False) -> np.ndarray:
    r"""Singular values of the ``(N, d)`` embedding matrix, descending, as a float64 array of length
    ``d`` (zeros where ``N < d``): the spectrum whose fast decay shows dimensional collapse (Jing et
    al., 2022, "Understanding Dimensional Collapse in Contrastive Self-supervised Learning",
    arXiv:2110.09348, Fig. 2 plots it for the centred embeddings, ``center=True``).

    Computed in float64 by a direct SVD for small ``N``, else as
    :math:`\sigma_k = \sqrt{\lambda_k(X^\top X)}` from a Gram matrix accumulated over row chunks,
    so memory is ``O(d^2)`` beyond the input.
    """
    x = as_embeddings("x", x)
    return _spectrum(x, center)


def effective_rank(x, *, center: bool = False) -> float:
    r"""Effective rank (Roy & Vetterli, 2007, "The effective rank: a measure of effective
    dimensionality", EUSIPCO, Def. 1), as used for embeddings by RankMe (Garrido et al., 2023,
    arXiv:2210.02885).

    .. math::
        \operatorname{erank}(X) = \exp\Big(-\sum_k p_k \log p_k\Big),\qquad
        p_k = \frac{\sigma_k}{\sum_l \sigma_l}

    with :math:`0 \log 0 = 0`; between 1 and ``min(N, d)``. Raises ``ValueError`` when every
    singular value is zero.
    """
    x = as_embeddings("x", x)
    sigma = _spectrum(x, center)
    total = sigma.sum()
    if not total > 0:
        raise ValueError("x: every singular value is zero, the effective rank is undefined")
    p = sigma[sigma > 0] / total
    return float(math.exp(-(p * np.log(p)).sum()))


def anisotropy(x) -> float:
    r"""Anisotropy (Ethayarajh, 2019, "How Contextual are Contextualized Word Representations?",
    arXiv:1909.00512, Sec. 3.3): the expected cosine similarity of two distinct random rows,
    computed exactly over all ordered pairs :math:`i \ne j` in ``O(N d)``:

    .. math::
        \frac{1}{N(N-1)}\sum_{i\ne j}\langle \hat x_i, \hat x_j\rangle
        = \frac{\lVert\sum_i \hat x_i\rVert^2 - \sum_i\lVert\hat x_i\rVert^2}{N(N-1)}

    Near 0 for an isotropic set, near 1 when all rows point the same way.
    """
    x = as_embeddings("x", x, min_rows=2)
    n = x.shape[0]
    with torch.no_grad():
        x_hat = torch.nn.functional.normalize(x.to(torch.float64), dim=1, eps=1e-12)
        total = x_hat.sum(dim=0).pow(2).sum() - x_hat.pow(2).sum()
    return float(total) / (n * (n - 1))


def _spectrum(x: torch.Tensor, center: bool) -> np.ndarray:
    """Singular values in float64: a direct SVD for up to ``DIRECT_SVD_ROWS`` rows, else the square
    roots of the eigenvalues of the chunk-accumulated Gram matrix, with eigenvalues below the usual
    rank tolerance ``d * eps * lambda_max`` (rounding noise) set to zero."""
    n, d = x.shape
    with torch.no_grad():
        mean = x.to(torch.float64).mean(dim=0) if center else None
        if n <= DIRECT_SVD_ROWS:
            x64 = x.to(torch.float64)
            sigma = torch.linalg.svdvals(x64 - mean if center else x64)
            return np.concatenate([sigma.cpu().numpy(), np.zeros(max(d - n, 0))])
        gram = torch.zeros(d, d, dtype=torch.float64, device=x.device)
        for start in range(0, n, GRAM_CHUNK):
            chunk = x[start:start + GRAM_CHUNK].to(torch.float64)
            if mean is not None:
                chunk = chunk - mean
            gram += chunk.T @ chunk
        eigenvalues = torch.linalg.eigvalsh(gram).flip(0)
        tolerance = d * torch.finfo(torch.float64).eps * eigenvalues[0].clamp_min(0.0)
        eigenvalues = torch.where(eigenvalues > tolerance, eigenvalues, torch.zeros_like(eigenvalues))
    return eigenvalues.sqrt().cpu().numpy()
