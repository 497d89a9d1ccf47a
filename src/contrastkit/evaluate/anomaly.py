r"""Anomaly detection with kNN distances to normal training embeddings, scored by AUROC."""

from __future__ import annotations

import numpy as np
import torch

from ._checks import as_embeddings, as_labels, as_vector, check_positive_int, check_same_dim
from ._search import check_backend, top_k
from ._stats import average_ranks


def auroc(scores, labels) -> float:
    r"""Area under the ROC curve, labels 1 = anomaly / positive, 0 = normal; higher score = more
    anomalous. Computed as the Mann–Whitney statistic (Hanley & McNeil, 1982, Radiology 143(1)):

    .. math::
        \mathrm{AUROC} = \frac{\sum_{i:\,y_i=1} \operatorname{rank}(s_i) - P(P+1)/2}{P\,Q}

    with average ranks for tied scores, ``P`` positives and ``Q`` negatives (a tie between a
    positive and a negative counts one half).

    Raises:
        ValueError: mismatched lengths, empty or non-finite input, labels other than 0/1, or only
        one class present.
    """
    scores = as_vector("scores", scores)
    labels = as_vector("labels", labels, scores.size)
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError(f"labels: expected 0 (normal) or 1 (anomaly), got values {np.unique(labels)[:5]}")
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError("labels: AUROC needs both classes (0 and 1) present")
    rank_sum = average_ranks(scores)[labels == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


def knn_anomaly_scores(train_x, test_x, k: int = 2, *, chunk_size: int | None = None,
                       backend: str = "exact") -> np.ndarray:
    r"""Anomaly score of each test row: the mean cosine distance to its ``k`` nearest (normal)
    training rows, :math:`\frac1k\sum_{j\in\mathcal N_k(x)} (1 - \langle\hat x, \hat x_j\rangle)`
    — the kNN score of PANDA (Reiss et al., 2021, arXiv:2010.05903) and Mean-Shifted Contrastive
    Loss (Reiss & Hoshen, 2023, arXiv:2106.03844), which use ``k = 2``.

    Returns:
        ``(N_test,)`` float64 array; higher = more anomalous.
    """
    train_x, test_x = as_embeddings("train_x", train_x), as_embeddings("test_x", test_x)
    check_same_dim("train_x", train_x, "test_x", test_x)
    check_backend(backend)
    k = check_positive_int("k", k, train_x.shape[0], "the number of training rows")
    similarities, _ = top_k(test_x, train_x, k, chunk_size=chunk_size, backend=backend)
    return (1.0 - similarities.double()).mean(dim=1).numpy()


def anomaly_auroc(train_x, test_x, test_labels, k: int = 2, **search) -> float:
    """AUROC of :func:`knn_anomaly_scores` against ``test_labels`` (1 = anomaly), ``train_x``
    holding normal rows only."""
    scores = knn_anomaly_scores(train_x, test_x, k, **search)
    try:
        return auroc(scores, test_labels)
    except ValueError as error:  # auroc names its own arguments: say which of ours is meant
        message = str(error)
        raise ValueError("test_labels" + message[len("labels"):] if message.startswith("labels")
                         else message) from None


def one_class_auroc(train_x, train_y, test_x, test_y, k: int = 2, **search) -> dict[str, float]:
    """One-class protocol per class (as PANDA and MSC report on CIFAR-10): for each class ``c``,
    the rows of class ``c`` in ``train_x`` are the normal training set and every test row of
    another class is an anomaly.

    Returns:
        ``{"class_<c>": AUROC for normal class c, ..., "mean": their mean}``.
    Raises:
        ValueError: as :func:`auroc`, or when a training class is missing from the test rows or
        the test rows hold a single class.
    """
    train_x, test_x = as_embeddings("train_x", train_x), as_embeddings("test_x", test_x)
    classes, codes = as_labels("train_y", train_y, train_x.shape[0])
    test_classes, test_codes = as_labels("test_y", test_y, test_x.shape[0])
    test_labels = test_classes[test_codes]
    k = check_positive_int("k", k, int(np.bincount(codes).min()), "the smallest training class")
    results = {}
    for c, cls in enumerate(classes):
        is_anomaly = (test_labels != cls).astype(np.float64)
        if is_anomaly.all() or not is_anomaly.any():
            raise ValueError(f"test_y: class {cls!r} needs both normal and anomalous test rows")
        normal = train_x[torch.from_numpy(np.flatnonzero(codes == c)).to(train_x.device)]
        results[f"class_{cls}"] = anomaly_auroc(normal, test_x, is_anomaly, k, **search)
    results["mean"] = float(np.mean(list(results.values())))
    return results
