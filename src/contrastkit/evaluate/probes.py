r"""Classification probes on frozen embeddings: weighted kNN and nearest class mean (the linear
probe is in :mod:`.linear`). Each returns the test accuracy in ``[0, 1]`` as a Python float; labels
may be any orderable values (ints, strings), and a test label absent from training counts as an error.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ._checks import as_embeddings, as_labels, check_positive_float, check_positive_int, check_same_dim
from ._search import top_k


def _probe_inputs(train_x, train_y, test_x, test_y):
    train_x, test_x = as_embeddings("train_x", train_x), as_embeddings("test_x", test_x)
    check_same_dim("train_x", train_x, "test_x", test_x)
    classes, codes = as_labels("train_y", train_y, train_x.shape[0])
    if classes.size < 2:
        raise ValueError(f"train_y: a probe needs at least 2 classes, got only {classes.tolist()}")
    test_classes, test_codes = as_labels("test_y", test_y, test_x.shape[0])
    # Position of each test label among the training classes (-1 if unseen: always wrong).
    where = np.searchsorted(classes, test_classes).clip(max=classes.size - 1)
    known = classes[where] == test_classes
    test_in_train = np.where(known, where, -1)[test_codes]
    return train_x, codes, test_x, test_in_train


def knn_accuracy(train_x, train_y, test_x, test_y, k: int = 20, *, temperature: float = 0.07,
                 chunk_size: int | None = None, backend: str = "exact") -> float:
    r"""Weighted k-nearest-neighbour accuracy with cosine similarity (Wu et al., 2018, "Unsupervised
    Feature Learning via Non-Parametric Instance Discrimination", arXiv:1805.01978, Sec. 3.4).

    For a test row :math:`\hat x`, its ``k`` most similar training rows :math:`\mathcal N_k` vote
    with weight :math:`e^{s_i/\tau}`, :math:`s_i = \langle\hat x, \hat x_i\rangle`:

    .. math::
        \hat y = \arg\max_c \sum_{i\in\mathcal N_k} e^{s_i/\tau}\,[y_i = c]

    Neighbour ties are broken by the lower training index, class ties by the smaller label.

    Args:
        k: neighbours, ``1 <= k <= len(train_x)`` (default 20, as InstDisc reports with 200 too).
        temperature: :math:`\tau > 0` of the vote weights (default 0.07).
        chunk_size, backend: see :func:`contrastkit.evaluate._search.top_k` (``"exact"``/``"faiss"``).
    Raises:
        ValueError: mismatched lengths or feature sizes, empty or non-finite input, ``k`` larger than
        the training set, fewer than two training classes.
    """
    train_x, codes, test_x, test_codes = _probe_inputs(train_x, train_y, test_x, test_y)
    k = check_positive_int("k", k, train_x.shape[0], "the number of training rows")
    temperature = check_positive_float("temperature", temperature)
    scores, neighbours = top_k(test_x, train_x, k, chunk_size=chunk_size, backend=backend)
    weights = torch.exp((scores.double() - scores[:, :1].double()) / temperature)  # (Q, k), max 1
    neighbour_codes = torch.from_numpy(codes)[neighbours]
    votes = torch.zeros(test_x.shape[0], int(codes.max()) + 1, dtype=torch.float64)
    votes.scatter_add_(1, neighbour_codes, weights)
    predicted = votes.argmax(dim=1).numpy()
    return float(np.mean(predicted == test_codes))


def nearest_class_mean_probe(train_x, train_y, test_x, test_y, *, normalize: bool = True) -> float:
    r"""Nearest-class-mean probe, the mean classifier of Arora et al. (2019, "A Theoretical Analysis
    of Contrastive Unsupervised Representation Learning", arXiv:1902.09229, Sec. 2):

    .. math::
        \mu_c = \frac{1}{|\{i: y_i=c\}|}\sum_{i: y_i = c} \hat x_i,\qquad
        \hat y = \arg\max_c \langle \hat x, \mu_c\rangle

    with :math:`\hat x` the L2-normalised rows (``normalize=True``) or the raw rows. Class ties go
    to the smaller label.
    """
    train_x, codes, test_x, test_codes = _probe_inputs(train_x, train_y, test_x, test_y)
    with torch.no_grad():
        x = train_x.to(torch.float64)
        q = test_x.to(device=x.device, dtype=torch.float64)
        if normalize:
            x, q = F.normalize(x, dim=1, eps=1e-12), F.normalize(q, dim=1, eps=1e-12)
        index = torch.from_numpy(codes).to(x.device)
        sums = torch.zeros(int(codes.max()) + 1, x.shape[1], dtype=torch.float64, device=x.device)
        sums.index_add_(0, index, x)
        means = sums / torch.bincount(index).unsqueeze(1).to(torch.float64)
        predicted = (q @ means.T).argmax(dim=1).cpu().numpy()
    return float(np.mean(predicted == test_codes))
