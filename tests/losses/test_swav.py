"""SwAV: Sinkhorn-Knopp against a loop of the official algorithm, the loss against lightly's
``SwaVLoss`` (with and without a queue, multi-crop), prototype / queue state resume, bad input."""

import pytest
import torch
import torch.nn.functional as F

from contrastkit.losses import SwAV, sinkhorn
from contrastkit.losses.sinkhorn import sinkhorn_knopp
from tests.anchors import lightly_loss
from tests.helpers import assert_close, randn


def require(module, library):
    if module is None:
        pytest.skip(f"{library} is not installed")
    return module


def ref_sinkhorn(scores, iterations, epsilon):
    """Algorithm 1 of Caron et al. (official ``distributed_sinkhorn`` in one process), by loops."""
    q = torch.exp(scores / epsilon).T.clone()  # (K, B)
    k, b = q.shape
    q = q / q.sum()
    for _ in range(iterations):
        for r in range(k):
            q[r] = q[r] / q[r].sum() / k
        for c in range(b):
            q[:, c] = q[:, c] / q[:, c].sum() / b
    return (q * b).T


@pytest.mark.parametrize("domain", ["exp", "log"])
@pytest.mark.parametrize("iterations", [1, 3])
def test_sinkhorn_matches_the_official_loop(iterations, domain, monkeypatch):
    if domain == "log":  # the branch taken when scores / epsilon spread too far for exponentials
        monkeypatch.setitem(sinkhorn.EXP_SPREAD, torch.float64, -1.0)
    scores = unit_scores(6, 4, seed=1)
    codes = sinkhorn_knopp(scores, iterations, 0.05)
    assert_close(codes, ref_sinkhorn(scores, iterations, 0.05))
    assert_close(codes.sum(1), torch.ones(6, dtype=torch.float64))


def unit_scores(n, k, seed):
    return F.normalize(randn(n, 5, seed=seed), dim=1) @ F.normalize(randn(k, 5, seed=seed + 1), dim=1).T


def model(dim=5, k=7, **kw):
    torch.manual_seed(0)
    return SwAV(dim, num_prototypes=k, **kw).double()


def lightly_value(swav, crops, queue_rows=None):
    module = require(lightly_loss("swav_loss"), "lightly")
    theirs = module.SwaVLoss(temperature=swav.temperature, sinkhorn_iterations=swav.sinkhorn_iterations,
                             sinkhorn_epsilon=swav.sinkhorn_epsilon)
    c = F.normalize(swav.prototypes.detach(), dim=1)
    scores = [F.normalize(x, dim=1) @ c.T for x in crops]
    g = swav.num_global_crops
    queue = None if queue_rows is None else [F.normalize(r, dim=1) @ c.T for r in queue_rows]
    return theirs(scores[:g], scores[g:], queue)


@pytest.mark.parametrize("num_crops, num_global", [(2, 2), (5, 2), (4, 1)])
def test_matches_lightly_multi_crop(num_crops, num_global):
    swav = model(num_global_crops=num_global)
    crops = [randn(6, 5, seed=10 + t) for t in range(num_crops)]
    leaves = [x.clone().requires_grad_(True) for x in crops]
    ours = swav(leaves, update=False)
    ours.backward()
    ref_leaves = [x.clone().requires_grad_(True) for x in crops]
    theirs = lightly_value(swav, ref_leaves)
    theirs.backward()
    assert_close(ours, theirs.reshape(()))
    for a, b in zip(leaves, ref_leaves):
        if a.grad is None or b.grad is None:  # a lone global crop only gives codes: no gradient
            assert a.grad is None and b.grad is None and num_global == 1
            continue
        assert_close(a.grad, b.grad)


def test_queue_matches_lightly_and_resumes():
    swav = model(queue_size=4)
    first = [randn(3, 5, seed=30 + t) for t in range(3)]
    swav(first)  # fills the queue with the two global crops' embeddings
    crops = [randn(3, 5, seed=40 + t) for t in range(3)]
    stored = [swav.queues[g].negatives()[0] for g in range(2)]
    assert_close(stored[0], F.normalize(first[0], dim=1))  # 3 of 4 slots used
    assert_close(swav(crops, update=False), lightly_value(swav, crops, stored).reshape(()))
    again = model(queue_size=4)
    again.load_state_dict(swav.state_dict())
    nxt = [randn(3, 5, seed=50 + t) for t in range(3)]
    assert_close(again(nxt), swav(nxt))
    assert set(swav.state_dict()) >= {"prototypes", "queues.0.keys", "queues.1.count"}


def test_prototypes_are_normalised_and_learn():
    swav = model()
    crops = [randn(6, 5, seed=60 + t) for t in range(2)]
    loss = swav(crops)
    loss.backward()
    assert_close(swav.prototypes.detach().norm(dim=1), torch.ones(7, dtype=torch.float64))
    assert swav.prototypes.grad is not None and torch.isfinite(loss) and loss > 0


def test_unnormalised_scores_stay_finite():
    codes = sinkhorn_knopp(randn(5, 4, seed=2) * 200, 3, 0.05)
    assert torch.isfinite(codes).all()


@pytest.mark.parametrize("kwargs, name", [
    (dict(num_prototypes=1), "num_prototypes"), (dict(sinkhorn_iterations=0), "sinkhorn_iterations"),
    (dict(sinkhorn_epsilon=0.0), "sinkhorn_epsilon"), (dict(temperature=-1.0), "temperature"),
    (dict(num_global_crops=0), "num_global_crops"), (dict(queue_size=-1), "queue_size"),
])
def test_bad_options(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SwAV(5, **kwargs)


def test_bad_crops():
    swav = model()
    with pytest.raises(ValueError, match="crops"):
        swav([randn(4, 5)])
    with pytest.raises(ValueError, match=r"crops\[1\]"):
        swav([randn(4, 5), randn(3, 5)])
    with pytest.raises(ValueError, match=r"crops\[0\]"):
        swav([torch.full((4, 5), float("nan")), randn(4, 5)])
    with pytest.raises(ValueError, match="num_global_crops"):
        model(num_global_crops=3)([randn(4, 5), randn(4, 5)])
