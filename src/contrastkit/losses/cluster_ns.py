"""ClusterNS: clustering-aware negatives (same-cluster false negatives out, nearest other centroid in)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .infonce import InfoNCE


class ClusterNS(InfoNCE):
    r"""ClusterNS (Deng, Wan, Liu, Sun & Ma, Findings of ACL 2023, "Clustering-Aware Negative
    Sampling for Unsupervised Sentence Representation", arXiv:2305.09892): InfoNCE of SimCSE pairs
    with online k-means over the batch.

    .. math::
        \ell_i = -s(h_i, h_i^+) + \log\Big[\sum_{j:\, c_j \ne c_i \text{ or } j = i} e^{s(h_i, h_j^+)}
                 + e^{s(h_i, \mu_{n(i)})}\Big],\qquad s(a, b) = \langle\hat a,\hat b\rangle/\tau

    ``c_i`` is the cluster of anchor ``i`` (nearest centroid by cosine): in-batch samples of the
    anchor's cluster are treated as false negatives and left out; :math:`\mu_{n(i)}`, the nearest
    centroid of another cluster, is added as a hard negative. Centroids (a buffer, in the state dict)
    are updated before the loss by ``kmeans_iterations`` Lloyd steps on the detached anchors, each
    moving a centroid by ``1 - momentum`` towards the normalised mean of its members (a centroid with
    no member stays); the first batch seeds them with its first ``num_clusters`` anchors. Choices
    the paper leaves open: this EMA form of online k-means, cosine assignment, a centroid carrying no
    gradient, and the pair's cluster taken from its anchor.

    Args:
        num_clusters: ``K >= 2`` (at most the first batch's size).
        temperature: :math:`\tau > 0` (default 0.05, SimCSE's).
        kmeans_iterations: Lloyd steps per forward (``>= 0``; 0 keeps the centroids).
        momentum: in ``[0, 1]`` (default 0.9; 1 freezes the centroids).
        other options: see :class:`InfoNCE` (``symmetric`` is not supported).
    Shapes:
        anchor, positive ``(N, d)``.
    Raises:
        ValueError: names the argument, for ``num_clusters < 2``, a first batch smaller than it,
        a negative ``kmeans_iterations``, ``momentum`` outside ``[0, 1]``, bad inputs.
    """

    supports_gather_distributed = False

    def __init__(self, num_clusters: int, temperature: float = 0.05, kmeans_iterations: int = 1,
                 momentum: float = 0.9, **options):
        super().__init__(temperature, **options)
        if isinstance(num_clusters, bool) or not isinstance(num_clusters, int) or num_clusters < 2:
            raise ValueError(f"num_clusters: expected an int >= 2, got {num_clusters!r}")
        iterations = kmeans_iterations
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
            raise ValueError(f"kmeans_iterations: expected an int >= 0, got {kmeans_iterations!r}")
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"momentum: expected a value in [0, 1], got {momentum!r}")
        self.num_clusters, self.kmeans_iterations, self.momentum = num_clusters, iterations, float(momentum)
        self.register_buffer("centroids", torch.zeros(0))
        self.register_buffer("seeded", torch.zeros((), dtype=torch.bool))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "centroids"
        if key in state_dict:  # the buffer's shape is known only once seeded
            self.centroids = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def update_centroids(self, x: Tensor) -> None:
        """Seed (first call) and refine the centroids with the normalised rows ``x``."""
        x = F.normalize(x.detach(), dim=1)
        if not bool(self.seeded):
            if x.shape[0] < self.num_clusters:
                raise ValueError(f"num_clusters: the first batch has {x.shape[0]} rows, fewer than "
                                 f"{self.num_clusters} clusters to seed")
            self.centroids = x[: self.num_clusters].clone()
            self.seeded.fill_(True)
        c = self.centroids.to(x.dtype)
        for _ in range(self.kmeans_iterations):
            members = (x @ c.T).argmax(dim=1)
            sums = torch.zeros_like(c).index_add_(0, members, x)
            counts = torch.bincount(members, minlength=c.shape[0])
            moved = F.normalize(self.momentum * c + (1 - self.momentum) * F.normalize(sums, dim=1), dim=1)
            c = torch.where((counts > 0)[:, None], moved, c)
        self.centroids = c

    def forward(self, anchor: Tensor, positive: Tensor) -> Tensor:
        if self.symmetric:
            raise ValueError("symmetric: ClusterNS is one-directional")
        h = self.prepare("anchor", anchor)
        self.prepare("positive", positive)
        self.update_centroids(h)
        c = self.centroids.to(h.dtype)
        scores = h.detach() @ c.T  # (N, K)
        clusters = scores.argmax(dim=1)
        others = scores.scatter(1, clusters[:, None], float("-inf"))
        hard = c[others.argmax(dim=1)].unsqueeze(1)  # (N, 1, d)
        return super().forward(anchor, positive, ids=clusters, negatives=hard)
