"""MoCo-HNF (hard negatives from the queue) and ClusterNS (online k-means negatives) against float64
loops written from their definitions; state resume and bad input."""

import pytest
import torch

from contrastkit.losses import ClusterNS, MoCoHNF
from contrastkit.scale.hard_negatives import hard_negative_indices
from tests.helpers import assert_close, assert_same, randn, unit

TAU = 0.3


def ref_moco_hnf(q, k, queue, top_k, threshold):
    q, k, m = unit(q), unit(k), unit(queue)
    total = 0.0
    for i in range(q.shape[0]):
        scores = [(float((q[i] @ m[j]).detach()), j) for j in range(m.shape[0])]
        eligible = sorted((s, j) for s, j in scores if threshold is None or s <= threshold)[::-1][:top_k]
        terms = [q[i] @ k[i] / TAU] + [q[i] @ m[j] / TAU for _, j in eligible]
        total = total + torch.logsumexp(torch.stack(terms), 0) - q[i] @ k[i] / TAU
    return total / q.shape[0]


@pytest.mark.parametrize("top_k, threshold", [(3, None), (3, 0.2), (8, 0.5), (1, -0.9)])
def test_moco_hnf_matches_the_loop(top_k, threshold):
    q, k, queue = randn(5, 3, seed=1), randn(5, 3, seed=2), randn(8, 3, seed=3)
    loss = MoCoHNF(TAU, top_k=top_k, duplicate_threshold=threshold)
    assert_same(lambda a, b: loss(a, b, queue),
                lambda a, b: ref_moco_hnf(a, b, queue, top_k, threshold), q, k)
    if threshold is not None:
        expected = int((unit(q) @ unit(queue).T > threshold).sum())
        assert int(loss.false_negative_count) == expected


def test_hard_negative_indices_in_blocks():
    q, keys = randn(7, 4, seed=4), randn(9, 4, seed=5)
    index, valid, dropped = hard_negative_indices(q, keys, 4, 0.5, block_rows=2)
    scores = q @ keys.T
    for i in range(7):
        allowed = [j for j in range(9) if scores[i, j] <= 0.5]
        best = sorted(allowed, key=lambda j: -float(scores[i, j]))[:4]
        assert index[i, : len(best)].tolist() == best
        assert valid[i].tolist() == [t < len(best) for t in range(4)]
        assert int(dropped[i]) == 9 - len(allowed)


def test_moco_hnf_bad_input():
    with pytest.raises(ValueError, match="top_k"):
        MoCoHNF(top_k=9)(randn(4, 3), randn(4, 3), randn(8, 3))  # queue smaller than top-k
    with pytest.raises(ValueError, match="duplicate_threshold"):
        MoCoHNF(duplicate_threshold=float("nan"))
    with pytest.raises(ValueError, match="queue"):
        MoCoHNF(top_k=2)(randn(4, 3), randn(4, 3), randn(8, 2))


def ref_cluster_ns(h, hp, centroids):
    h, hp, c = unit(h), unit(hp), unit(centroids)
    score = (h @ c.T).detach()
    total = 0.0
    for i in range(h.shape[0]):
        own = max(range(c.shape[0]), key=lambda j: float(score[i, j]))
        mine = [max(range(c.shape[0]), key=lambda j: float(score[b, j])) for b in range(h.shape[0])]
        other = max((j for j in range(c.shape[0]) if j != own), key=lambda j: float(score[i, j]))
        terms = [h[i] @ hp[j] / TAU for j in range(h.shape[0]) if j == i or mine[j] != own]
        terms.append(h[i] @ c[other] / TAU)
        total = total + torch.logsumexp(torch.stack(terms), 0) - h[i] @ hp[i] / TAU
    return total / h.shape[0]


def seeded(h, **kw):
    loss = ClusterNS(3, temperature=TAU, **kw).double()
    loss.update_centroids(h)
    return loss


@pytest.mark.parametrize("backend", ["reference", "streaming"])
def test_cluster_ns_matches_the_loop_with_frozen_centroids(backend):
    h, hp = randn(8, 3, seed=6), randn(8, 3, seed=7)
    loss = seeded(randn(8, 3, seed=8), momentum=1.0, backend=backend, tile_size=3)
    centroids = loss.centroids.clone()
    assert_same(loss, lambda a, b: ref_cluster_ns(a, b, centroids), h, hp)
    assert torch.equal(loss.centroids, centroids)


def test_cluster_ns_online_kmeans_step():
    x = randn(10, 3, seed=9)
    loss = ClusterNS(3, kmeans_iterations=1, momentum=0.5).double()
    loss.update_centroids(x)
    seeds = unit(x[:3])
    members = (unit(x) @ seeds.T).argmax(1)
    expected = []
    for j in range(3):
        rows = unit(x)[members == j]
        if len(rows) == 0:
            expected.append(seeds[j])
            continue
        mean = rows.sum(0) / rows.sum(0).norm()
        mixed = 0.5 * seeds[j] + 0.5 * mean
        expected.append(mixed / mixed.norm())
    assert_close(loss.centroids, torch.stack(expected))


def test_cluster_ns_state_resumes():
    a = ClusterNS(3, temperature=TAU).double()
    batches = [(randn(6, 3, seed=20 + s), randn(6, 3, seed=30 + s)) for s in range(3)]
    a(*batches[0])
    b = ClusterNS(3, temperature=TAU).double()
    b.load_state_dict(a.state_dict())
    for h, hp in batches[1:]:
        assert_close(b(h, hp), a(h, hp))
        assert_close(b.centroids, a.centroids)


@pytest.mark.parametrize("kwargs, name", [(dict(num_clusters=1), "num_clusters"),
                                          (dict(num_clusters=3, kmeans_iterations=-1), "kmeans_iterations"),
                                          (dict(num_clusters=3, momentum=1.5), "momentum")])
def test_cluster_ns_bad_options(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ClusterNS(**kwargs)


def test_cluster_ns_first_batch_too_small():
    with pytest.raises(ValueError, match="num_clusters"):
        ClusterNS(5)(randn(3, 2), randn(3, 2))
