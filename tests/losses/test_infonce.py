"""InfoNCE and NT-Xent against per-anchor loops written from the papers' formulas."""

import math

import pytest
import torch

from contrastkit.losses import InfoNCE, NTXent
from tests.helpers import assert_close, assert_low_precision_matches_float32, grads, randint, randn, unit


def ref_infonce(q, k, tau, labels=None, negatives=None, ids=None, negative_ids=None, symmetric=False):
    """Naive float64 InfoNCE: one anchor at a time, explicit positive and denominator sets."""
    q, k = unit(q), unit(k)
    n = q.shape[0]
    shared = unit(negatives) if negatives is not None and negatives.dim() == 2 else None
    per_anchor = unit(negatives) if negatives is not None and negatives.dim() == 3 else None

    def one_direction(anchors, keys, extra_shared, extra_rows, with_neg_ids):
        losses = []
        for i in range(n):
            pos, denom = [], []
            for j in range(n):
                s = anchors[i] @ keys[j] / tau
                is_pos = j == i or (labels is not None and labels[i] == labels[j])
                if not is_pos and ids is not None and ids[i] == ids[j]:
                    continue
                denom.append(s)
                if is_pos:
                    pos.append(s)
            if extra_shared is not None:
                for m in range(extra_shared.shape[0]):
                    if with_neg_ids is not None and with_neg_ids[m] == ids[i]:
                        continue
                    denom.append(anchors[i] @ extra_shared[m] / tau)
            if extra_rows is not None:
                denom.extend(anchors[i] @ extra_rows[i, m] / tau for m in range(extra_rows.shape[1]))
            losses.append(-sum(pos) / len(pos) + torch.logsumexp(torch.stack(denom), 0))
        return torch.stack(losses)

    loss = one_direction(q, k, shared, per_anchor, negative_ids)
    if symmetric:
        loss = 0.5 * (loss + one_direction(k, q, None, None, None))
    return loss.mean()


def ref_ntxent(z1, z2, tau):
    z = unit(torch.cat([z1, z2]))
    n2 = z.shape[0]
    total = 0.0
    for a in range(n2):
        pos = (a + n2 // 2) % n2
        denom = torch.logsumexp(torch.stack([z[a] @ z[b] / tau for b in range(n2) if b != a]), 0)
        total = total - z[a] @ z[pos] / tau + denom
    return total / n2


CASES = [
    dict(),
    dict(symmetric=True),
    dict(labels=True),
    dict(labels=True, symmetric=True),
    dict(ids=True),
    dict(negatives="shared"),
    dict(negatives="shared", ids=True, negative_ids=True),
    dict(negatives="per_anchor", labels=True),
    dict(negatives="shared", labels=True, ids=True, symmetric=True),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("n, d", [(4, 3), (7, 5)])
def test_infonce_matches_reference_values_and_gradients(case, n, d):
    q, k = randn(n, d, seed=1), randn(n, d, seed=2)
    kw = {}
    if case.get("labels"):
        kw["labels"] = randint(3, n, seed=3)
    if case.get("ids"):
        kw["ids"] = randint(n // 2 + 1, n, seed=4)
    if case.get("negatives") == "shared":
        kw["negatives"] = randn(5, d, seed=5)
    if case.get("negatives") == "per_anchor":
        kw["negatives"] = randn(n, 3, d, seed=6)
    if case.get("negative_ids"):
        kw["negative_ids"] = randint(n // 2 + 1, 5, seed=7)
    symmetric = case.get("symmetric", False)
    loss = InfoNCE(temperature=0.3, symmetric=symmetric)
    extra = {k: v for k, v in kw.items() if k != "negatives"}

    def ours(q, k, *neg):
        return loss(q, k, negatives=neg[0] if neg else None, **extra)

    def ref(q, k, *neg):
        return ref_infonce(q, k, 0.3, negatives=neg[0] if neg else None, symmetric=symmetric, **extra)

    inputs = (q, k) + ((kw["negatives"],) if "negatives" in kw else ())
    value, g = grads(ours, *inputs)
    ref_value, ref_g = grads(ref, *inputs)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):
        assert_close(a, b)


@pytest.mark.parametrize("n, d", [(3, 2), (6, 4)])
def test_ntxent_matches_reference_values_and_gradients(n, d):
    z1, z2 = randn(n, d, seed=8), randn(n, d, seed=9)
    value, g = grads(NTXent(temperature=0.5), z1, z2)
    ref_value, ref_g = grads(lambda a, b: ref_ntxent(a, b, 0.5), z1, z2)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):
        assert_close(a, b)


def test_ntxent_closed_form_identical_views():
    # All rows equal: every logit is 1/tau, so the loss is log(2N - 1) exactly.
    z = torch.ones(5, 3, dtype=torch.float64)
    assert_close(NTXent(temperature=0.2)(z, z), math.log(9))


def test_gradcheck_infonce_symmetric_with_labels():
    q, k = randn(4, 3, seed=1, requires_grad=True), randn(4, 3, seed=2, requires_grad=True)
    labels = torch.tensor([0, 1, 0, 2])
    loss = InfoNCE(temperature=0.5, symmetric=True)
    assert torch.autograd.gradcheck(lambda a, b: loss(a, b, labels=labels), (q, k))


def test_learnable_temperature_gets_gradient():
    loss = InfoNCE(temperature=0.1, learnable_temperature=True)
    out = loss(randn(6, 4, dtype=torch.float32), randn(6, 4, seed=1, dtype=torch.float32))
    out.backward()
    assert loss.temperature.log_temperature.grad is not None
    assert math.isclose(loss.temperature.value, 0.1, rel_tol=1e-6)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_small_temperature_is_finite(dtype):
    q, k = randn(32, 8, dtype=dtype), randn(32, 8, seed=1, dtype=dtype)
    assert_low_precision_matches_float32(InfoNCE(temperature=0.01, symmetric=True), q, k)


@pytest.mark.parametrize("call, match", [
    (lambda l: l(randn(4, 3), randn(5, 3)), "key"),
    (lambda l: l(randn(4, 3), randn(4, 2)), "key"),
    (lambda l: l(randn(4), randn(4)), "query"),
    (lambda l: l(randn(4, 3), randn(4, 3), labels=torch.zeros(3, dtype=torch.long)), "labels"),
    (lambda l: l(randn(4, 3), randn(4, 3), labels=torch.zeros(4)), "labels"),
    (lambda l: l(randn(4, 3), randn(4, 3), ids=torch.zeros(5, dtype=torch.long)), "ids"),
    (lambda l: l(randn(4, 3), randn(4, 3), negatives=randn(5, 2)), "negatives"),
    (lambda l: l(randn(4, 3), randn(4, 3), negatives=randn(3, 2, 3)), "negatives"),
    (lambda l: l(randn(4, 3), randn(4, 3), negatives=randn(3)), "negatives"),
    (lambda l: l(torch.full((4, 3), float("nan")), randn(4, 3)), "query"),
    (lambda l: l(randn(4, 3), randn(4, 3).index_fill(0, torch.tensor([1]), float("inf"))), "key"),
])
def test_infonce_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call(InfoNCE())


def test_bad_hyper_parameters():
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            InfoNCE(temperature=bad)
    with pytest.raises(ValueError, match="reduction"):
        NTXent(reduction="avg")
    with pytest.raises(ValueError, match="z2"):
        NTXent()(randn(3, 2), randn(4, 2))
