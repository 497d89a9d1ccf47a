r"""Cut-off ranking metrics from the relevance grades of ranked results, shared by retrieval and
recommendation. For one query with relevant set :math:`R` (grade :math:`g > 0`), the grade
:math:`g_r` of the result at rank :math:`r` (0 when not relevant) and :math:`g^*_r` the grades of
:math:`R` sorted in decreasing order:

.. math::
    \mathrm{recall@}k &= |\{r \le k: g_r > 0\}| \,/\, |R| \\
    \mathrm{MRR@}k &= 1/\min\{r \le k: g_r > 0\} \quad (0 \text{ if none}) \\
    \mathrm{nDCG@}k &= \sum_{r\le k}\frac{g_r}{\log_2(r+1)}
        \Big/ \sum_{r\le \min(k,|R|)}\frac{g^*_r}{\log_2(r+1)} \\
    \mathrm{MAP@}k &= \frac{1}{\min(k, |R|)}\sum_{r\le k,\ g_r>0} \frac{|\{r'\le r: g_{r'}>0\}|}{r}

nDCG uses linear gains (Järvelin & Kekäläinen, 2002, "Cumulated gain-based evaluation of IR
techniques", ACM TOIS 20(4), as trec_eval); MAP@k divides by ``min(k, |R|)`` so that a perfect
ranking scores 1 (as sentence-transformers' InformationRetrievalEvaluator). Each metric is
averaged over queries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def ranking_metrics(grades: np.ndarray, relevant_grades: Sequence[np.ndarray], ks: Sequence[int],
                    names: Sequence[str] = ("recall", "mrr", "ndcg", "map")) -> dict[str, float]:
    """Average the metrics ``names`` at each cut-off of ``ks``.

    Args:
        grades: ``(Q, K)`` grade of the result at each rank (0 = not relevant), ``K >= max(ks)``.
        relevant_grades: per query, the positive grades of all its relevant items (non-empty).
        ks: cut-offs.
    Returns:
        ``{f"{name}@{k}": mean over queries}`` as Python floats.
    """
    num_queries, depth = grades.shape
    hit = grades > 0  # (Q, K)
    ranks = np.arange(1, depth + 1)
    discounts = 1.0 / np.log2(ranks + 1)  # (K,)
    num_relevant = np.array([g.size for g in relevant_grades])  # (Q,)
    ideal = np.zeros((num_queries, depth))
    for q, g in enumerate(relevant_grades):
        best = np.sort(g)[::-1][:depth]
        ideal[q, : best.size] = best
    ideal_dcg = np.cumsum(ideal * discounts, axis=1)  # (Q, K)
    dcg = np.cumsum(grades * discounts, axis=1)
    hits_so_far = np.cumsum(hit, axis=1)
    precision_at_hits = np.where(hit, hits_so_far / ranks, 0.0)
    first_hit = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, depth + 1)  # (Q,)

    metrics = {}
    for k in ks:
        per_query = {
            "recall": hits_so_far[:, k - 1] / num_relevant,
            "mrr": np.where(first_hit <= k, 1.0 / first_hit, 0.0),
            "ndcg": dcg[:, k - 1] / ideal_dcg[:, k - 1],
            "map": precision_at_hits[:, :k].sum(axis=1) / np.minimum(k, num_relevant),
        }
        for name in names:
            metrics[f"{name}@{k}"] = float(per_query[name].mean())
    return metrics
