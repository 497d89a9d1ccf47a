"""SupCon against a per-anchor loop written from Khosla et al. (2020), Eq. 2 (L_out)."""

import math

import pytest
import torch
from torch.func import functional_call

from contrastkit.losses import NTXent, SupCon
from tests.helpers import assert_close, grads, randint, randn, unit


def ref_supcon(features, labels, tau, no_positive="zero", base_temperature=None):
    """Naive float64 L_out: I = every view of every sample, A(i) = I minus i, P(i) = same label."""
    if features.dim() == 2:
        features = features.unsqueeze(1)
    n, views, _ = features.shape
    rows = [(s, v) for v in range(views) for s in range(n)]
    z = {row: unit(features[row[0], row[1]]) for row in rows}
    label = (lambda s: s) if labels is None else (lambda s: int(labels[s]))
    terms = []
    for i in rows:
        others = [a for a in rows if a != i]
        positives = [p for p in others if label(p[0]) == label(i[0])]
        if not positives:
            if no_positive == "zero":
                terms.append(torch.zeros((), dtype=features.dtype))
            continue
        log_denominator = torch.logsumexp(torch.stack([z[i] @ z[a] / tau for a in others]), 0)
        log_probs = [z[i] @ z[p] / tau - log_denominator for p in positives]
        terms.append(-sum(log_probs) / len(positives))
    loss = torch.stack(terms).mean()
    return loss if base_temperature is None else loss * tau / base_temperature


CASES = [
    (6, 1, 3, "labels"),       # (N, d) with labels
    (5, 2, 4, "labels"),       # (N, V, d) with labels
    (4, 3, 3, "labels"),
    (5, 2, 3, None),           # SimCLR over views
    (3, 4, 2, None),
]


@pytest.mark.parametrize("n, views, d, use_labels", CASES)
def test_supcon_matches_reference_values_and_gradients(n, views, d, use_labels):
    shape = (n, d) if views == 1 else (n, views, d)
    features = randn(*shape, seed=n + views)
    # Labels 0, 0, 1, 1, ... shuffled: with one view, every anchor still has a positive (N even).
    shuffled = torch.randperm(n, generator=torch.Generator().manual_seed(n))
    labels = None if use_labels is None else shuffled // 2
    loss = SupCon(temperature=0.3)
    value, g = grads(lambda f: loss(f, labels), features)
    ref_value, ref_g = grads(lambda f: ref_supcon(f, labels, 0.3), features)
    assert_close(value, ref_value)
    assert_close(g[0], ref_g[0])


@pytest.mark.parametrize("no_positive", ["ignore", "zero"])
def test_supcon_anchors_without_positive(no_positive):
    features = randn(7, 4, seed=11)
    labels = torch.tensor([0, 5, 0, 2, 2, 9, 2])  # samples 1 and 5 have no positive
    loss = SupCon(temperature=0.2, no_positive=no_positive)
    value, g = grads(lambda f: loss(f, labels), features)
    ref_value, ref_g = grads(lambda f: ref_supcon(f, labels, 0.2, no_positive), features)
    assert_close(value, ref_value)
    assert_close(g[0], ref_g[0])
    per_anchor = SupCon(temperature=0.2, no_positive=no_positive, reduction="none")(features, labels)
    assert per_anchor[1] == 0 and per_anchor[5] == 0 and (per_anchor[[0, 2, 3, 4, 6]] > 0).all()


def test_supcon_no_positive_error_by_default():
    with pytest.raises(ValueError, match=r"labels: anchor 1 .*no positive"):
        SupCon()(randn(4, 3), torch.tensor([0, 1, 0, 2]))


def test_supcon_ignore_with_no_positive_at_all_is_zero_with_gradient():
    features = randn(3, 4, seed=12, requires_grad=True)
    out = SupCon(no_positive="ignore")(features, torch.tensor([0, 1, 2]))
    out.backward()
    assert out == 0 and torch.equal(features.grad, torch.zeros_like(features))


def test_supcon_without_labels_equals_ntxent():
    z1, z2 = randn(6, 5, seed=13), randn(6, 5, seed=14)
    assert_close(SupCon(temperature=0.5)(torch.stack([z1, z2], dim=1)), NTXent(0.5)(z1, z2))
    # reduction="none" is view-major, like NT-Xent's rows of z1 first.
    assert_close(SupCon(temperature=0.5, reduction="none")(torch.stack([z1, z2], dim=1)),
                 NTXent(0.5, reduction="none")(z1, z2))
    assert_close(SupCon(temperature=0.5, reduction="sum")(torch.stack([z1, z2], dim=1)),
                 NTXent(0.5, reduction="sum")(z1, z2))


def test_supcon_closed_form_identical_rows():
    # Every logit equals 1/tau: each anchor's log-probability of a positive is -log(|A(i)|).
    features = torch.ones(3, 2, 4, dtype=torch.float64)
    assert_close(SupCon(temperature=0.1)(features, torch.tensor([0, 1, 1])), math.log(5))


def test_supcon_base_temperature_rescales_as_the_official_code():
    features, labels = randn(5, 2, 3, seed=15), torch.tensor([0, 1, 0, 1, 2])
    value = SupCon(temperature=0.1, base_temperature=0.07)(features, labels)
    assert_close(value, ref_supcon(features, labels, 0.1, base_temperature=0.07))
    assert_close(value, SupCon(temperature=0.1)(features, labels) * 0.1 / 0.07)


def test_gradcheck_supcon_with_learnable_temperature():
    loss = SupCon(temperature=0.4, learnable_temperature=True).double()
    features = randn(4, 2, 3, seed=16, requires_grad=True)
    log_tau = loss.temperature.log_temperature.detach().clone().requires_grad_(True)
    labels = torch.tensor([0, 1, 0, 2])

    def call(features, log_tau):
        return functional_call(loss, {"temperature.log_temperature": log_tau}, (features, labels))

    assert torch.autograd.gradcheck(call, (features, log_tau))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_supcon_low_precision_small_temperature_is_finite(dtype):
    features = randn(16, 2, 8, seed=17, dtype=dtype, requires_grad=True)
    labels = randint(4, 16, seed=18)
    loss = SupCon(temperature=0.01, learnable_temperature=True)
    out = loss(features, labels)
    out.backward()
    assert out.dtype == torch.float32 and torch.isfinite(out)
    assert features.grad.dtype == dtype and torch.isfinite(features.grad).all()
    assert torch.isfinite(loss.temperature.log_temperature.grad)
    assert_close(out, loss(features.float(), labels), dtype=torch.float32, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("call, match", [
    (lambda l: l(randn(4)), "features"),
    (lambda l: l(randn(2, 2, 2, 2)), "features"),
    (lambda l: l(randn(4, 3)), "labels"),  # one view needs labels
    (lambda l: l(randn(4, 3), torch.zeros(3, dtype=torch.long)), "labels"),
    (lambda l: l(randn(4, 2, 3), torch.zeros(8, dtype=torch.long)), "labels"),
    (lambda l: l(randn(4, 3), torch.zeros(4)), "labels"),
    (lambda l: l(randn(4, 3), torch.zeros(4, 1, dtype=torch.long)), "labels"),
    (lambda l: l(torch.full((4, 2, 3), float("nan"))), "features"),
    (lambda l: l(randn(4, 3).index_fill(0, torch.tensor([1]), float("inf")),
                 torch.zeros(4, dtype=torch.long)), "features"),
    (lambda l: l(torch.ones(4, 2, 3, dtype=torch.long)), "features"),
])
def test_supcon_bad_input(call, match):
    with pytest.raises(ValueError, match=f"^{match}:"):
        call(SupCon())


@pytest.mark.parametrize("kwargs, match", [
    (dict(temperature=0.0), "temperature"),
    (dict(temperature=-0.5), "temperature"),
    (dict(base_temperature=0.0), "base_temperature"),
    (dict(no_positive="skip"), "no_positive"),
])
def test_supcon_bad_hyper_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SupCon(**kwargs)
