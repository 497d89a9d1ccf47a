"""TripletMargin against a per-triplet loop and torch.nn.TripletMarginLoss on normalised inputs."""

import pytest
import torch
import torch.nn.functional as F

from contrastkit.losses import TripletMargin
from tests.helpers import assert_close, assert_low_precision_matches_float32, grads, randn, unit


def ref_triplet(anchor, positive, negative, margin, squared=False):
    """Naive float64 loop: max(0, d(a_i, p_i) - d(a_i, n_i) + margin) on unit rows, averaged."""
    a, p, n = unit(anchor), unit(positive), unit(negative)
    terms = []
    for i in range(a.shape[0]):
        d_ap = sum((a[i, k] - p[i, k]) ** 2 for k in range(a.shape[1]))
        d_an = sum((a[i, k] - n[i, k]) ** 2 for k in range(a.shape[1]))
        if not squared:
            d_ap, d_an = d_ap.sqrt(), d_an.sqrt()
        terms.append(torch.clamp(d_ap - d_an + margin, min=0))
    return torch.stack(terms).mean()


def triplet_inputs(n, d, seed):
    return randn(n, d, seed=seed), randn(n, d, seed=seed + 1), randn(n, d, seed=seed + 2)


@pytest.mark.parametrize("n, d, margin", [(3, 2, 0.2), (8, 5, 0.5), (16, 4, 1.0)])
@pytest.mark.parametrize("squared", [False, True])
def test_triplet_matches_reference_values_and_gradients(n, d, margin, squared):
    inputs = triplet_inputs(n, d, seed=n)
    value, g = grads(TripletMargin(margin=margin, squared=squared), *inputs)
    ref_value, ref_g = grads(lambda *x: ref_triplet(*x, margin, squared), *inputs)
    assert 0 < value  # a case with active triplets
    assert_close(value, ref_value)
    for ours, ref in zip(g, ref_g):
        assert_close(ours, ref)


@pytest.mark.parametrize("n, d, margin", [(6, 3, 0.2), (12, 7, 0.8)])
def test_triplet_matches_torch_triplet_margin_loss_on_normalised_inputs(n, d, margin):
    inputs = triplet_inputs(n, d, seed=2 * n)
    torch_loss = torch.nn.TripletMarginLoss(margin=margin, p=2, eps=0.0)
    value, g = grads(TripletMargin(margin=margin), *inputs)
    ref_value, ref_g = grads(lambda *x: torch_loss(*(F.normalize(t, dim=-1) for t in x)), *inputs)
    assert_close(value, ref_value)
    for ours, ref in zip(g, ref_g):
        assert_close(ours, ref)


def test_triplet_closed_form():
    # positive = anchor, negative = -anchor: d(a, p) = 0, d(a, n) = 2.
    a = torch.tensor([[3.0, 4.0], [0.0, -2.0]], dtype=torch.float64)
    assert_close(TripletMargin(margin=0.2)(a, a, -a), 0.0)
    assert_close(TripletMargin(margin=3.0)(a, a, -a), 1.0)
    assert_close(TripletMargin(margin=5.0, squared=True)(a, a, -a), 1.0)  # 0 - 4 + 5
    per_triplet = TripletMargin(margin=3.0, reduction="none")(a, a, -a)
    assert per_triplet.shape == (2,)
    assert_close(per_triplet, torch.ones(2, dtype=torch.float64))


def test_triplet_without_normalisation_uses_raw_distances():
    a, p, n = triplet_inputs(5, 3, seed=30)
    expected = torch.relu((a - p).norm(dim=1) - (a - n).norm(dim=1) + 0.2).mean()
    assert_close(TripletMargin(normalize=False)(a, p, n), expected)


def test_gradcheck_triplet():
    inputs = [x.requires_grad_(True) for x in triplet_inputs(4, 3, seed=40)]
    assert torch.autograd.gradcheck(TripletMargin(margin=0.5), tuple(inputs))
    assert torch.autograd.gradcheck(TripletMargin(margin=0.5, squared=True), tuple(inputs))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_triplet_low_precision_is_float32_and_finite(dtype):
    inputs = [x.to(dtype) for x in triplet_inputs(32, 8, seed=50)]
    assert_low_precision_matches_float32(TripletMargin(), *inputs)


def test_triplet_identical_anchor_and_positive_has_finite_gradient():
    a, _, n = (x.requires_grad_(True) for x in triplet_inputs(4, 3, seed=60))
    out = TripletMargin()(a, a, n)
    out.backward()
    assert torch.isfinite(a.grad).all() and torch.isfinite(n.grad).all()


@pytest.mark.parametrize("call, match", [
    (lambda l: l(randn(4, 3), randn(5, 3), randn(4, 3)), "positive"),
    (lambda l: l(randn(4, 3), randn(4, 3), randn(4, 2)), "negative"),
    (lambda l: l(randn(4), randn(4), randn(4)), "anchor"),
    (lambda l: l(randn(4, 3), randn(4, 3), randn(1, 4, 3)), "negative"),
    (lambda l: l(torch.full((4, 3), float("nan")), randn(4, 3), randn(4, 3)), "anchor"),
    (lambda l: l(randn(4, 3), randn(4, 3).index_fill(0, torch.tensor([0]), float("inf")),
                 randn(4, 3)), "positive"),
])
def test_triplet_bad_input(call, match):
    with pytest.raises(ValueError, match=f"^{match}:"):
        call(TripletMargin())


@pytest.mark.parametrize("margin", [-0.1, float("nan"), float("inf")])
def test_triplet_bad_margin(margin):
    with pytest.raises(ValueError, match="margin"):
        TripletMargin(margin=margin)
