r"""STS-style evaluation: correlation between the cosine similarity of sentence pairs and gold
similarity scores, as reported by SentEval (Conneau & Kiela, 2018, arXiv:1803.05449) and
Sentence-BERT (Reimers & Gurevych, 2019, arXiv:1908.10084, Sec. 4.1, Spearman's rank correlation).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ._checks import as_embeddings, as_vector
from ._stats import average_ranks, pearson

COSINE_CHUNK = 65536
#: cosines spread over less than this are equal up to float64 rounding, not a ranking signal
ROUNDING_SPREAD = 1e-12


def check_spread(cosines: np.ndarray, gold: np.ndarray) -> None:
    """Raise ``ValueError`` for constant ``gold``, then when every cosine is equal up to rounding
    (``max - min <= 1e-12``): e.g. ``a`` and ``b`` equal or scaled copies of each other, whose
    "correlation" would rank rounding noise."""
    if np.all(gold == gold[0]):
        raise ValueError("gold: all values are equal, the correlation is undefined")
    spread = float(cosines.max() - cosines.min())
    if spread <= ROUNDING_SPREAD:
        raise ValueError(f"a, b (cosine similarities): all values are equal up to rounding (spread "
                         f"{spread:.3g} <= {ROUNDING_SPREAD:g}), the correlation is undefined")


def pair_cosines(a, b) -> np.ndarray:
    """``cos(a_i, b_i)`` for each row pair, float64, computed in row chunks."""
    a, b = as_embeddings("a", a, min_rows=2), as_embeddings("b", b)
    if b.shape != a.shape:
        raise ValueError(f"b: shape {tuple(b.shape)} does not match a's {tuple(a.shape)}")
    out = []
    with torch.no_grad():
        for start in range(0, a.shape[0], COSINE_CHUNK):
            x = F.normalize(a[start:start + COSINE_CHUNK].to(torch.float64), dim=1, eps=1e-12)
            y = F.normalize(b[start:start + COSINE_CHUNK].to(device=x.device, dtype=torch.float64),
                            dim=1, eps=1e-12)
            out.append((x * y).sum(dim=1).cpu().numpy())
    return np.concatenate(out)


def sts_spearman(a, b, gold) -> float:
    r"""Spearman's rank correlation of :math:`\cos(a_i, b_i)` with ``gold[i]``: the Pearson
    correlation of the average ranks (ties share their mean rank).

    Shapes: a, b ``(N, d)`` with ``N >= 2``; gold ``(N,)``.
    Raises: ValueError for mismatched shapes, empty or non-finite input, or constant gold scores or
    similarities (equal up to float64 rounding; the correlation is undefined).
    """
    cosines = pair_cosines(a, b)
    gold = as_vector("gold", gold, cosines.size)
    check_spread(cosines, gold)
    return pearson(average_ranks(cosines), average_ranks(gold), "a, b (cosine similarities)", "gold")


def sts_pearson(a, b, gold) -> float:
    r"""Pearson correlation of :math:`\cos(a_i, b_i)` with ``gold[i]``; inputs as :func:`sts_spearman`."""
    cosines = pair_cosines(a, b)
    gold = as_vector("gold", gold, cosines.size)
    check_spread(cosines, gold)
    return pearson(cosines, gold, "a, b (cosine similarities)", "gold")
