"""GML's class-prior-adjusted contrastive term against a float64 loop, bad input."""

import math

import pytest
import torch

from contrastkit.losses import GML
from tests.helpers import assert_same, randn

PRIOR = torch.tensor([0.6, 0.3, 0.1], dtype=torch.float64)
LABELS = torch.tensor([0, 0, 1, 2])
KEY_LABELS = torch.tensor([0, 0, 0, 1, 1, 2])


def ref_gml(query, key, labels, key_labels, prior, tau):
    total = 0.0
    for i in range(query.shape[0]):
        qi = query[i] / query[i].norm()
        terms = {}
        for c in range(len(prior)):
            members = [key[j] / key[j].norm() for j in range(key.shape[0]) if int(key_labels[j]) == c]
            if members:
                mean = sum(torch.exp(qi @ k / tau) for k in members) / len(members)
                terms[c] = float(prior[c]) * mean
        total = total - torch.log(terms[int(labels[i])] / sum(terms.values()))
    return total / query.shape[0]


@pytest.mark.parametrize("key_labels", [KEY_LABELS, torch.tensor([0, 0, 2, 1, 1, 2])])
def test_matches_the_formula(key_labels):
    query, key = randn(4, 5, seed=1), randn(6, 5, seed=2)
    loss = GML(PRIOR, temperature=0.5)
    assert_same(lambda a, b: loss(a, LABELS, b, key_labels),
                lambda a, b: ref_gml(a, b, LABELS, key_labels, PRIOR, 0.5), query, key)


def test_a_class_without_keys_is_left_out():
    query, key = randn(2, 5, seed=3), randn(4, 5, seed=4)
    labels, key_labels = torch.tensor([0, 1]), torch.tensor([0, 1, 1, 0])
    assert_same(lambda a, b: GML(PRIOR, 0.5)(a, labels, b, key_labels),
                lambda a, b: ref_gml(a, b, labels, key_labels, PRIOR, 0.5), query, key)


def test_gradcheck_non_negative_and_cold_temperature_finite():
    query = randn(4, 3, seed=5, requires_grad=True)
    key = randn(6, 3, seed=6, requires_grad=True)
    loss = GML(PRIOR, temperature=0.3)
    assert torch.autograd.gradcheck(lambda a, b: loss(a, LABELS, b, KEY_LABELS), (query, key))
    value = GML(PRIOR, temperature=1e-6)(query, LABELS, key, KEY_LABELS)
    assert math.isfinite(float(value.detach())) and float(value.detach()) >= 0
    grad = torch.autograd.grad(value, query)[0]
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("call, name", [
    (lambda l: l(randn(4, 3), LABELS, randn(6, 2), KEY_LABELS), "key"),
    (lambda l: l(randn(4, 3), LABELS[:3], randn(6, 3), KEY_LABELS), "labels"),
    (lambda l: l(randn(4, 3), torch.tensor([0, 1, 2, 3]), randn(6, 3), KEY_LABELS), "labels"),
    (lambda l: l(randn(4, 3), LABELS, randn(6, 3), torch.tensor([0, 0, 0, 1, 1, 1])), "key_labels"),
    (lambda l: l(randn(4, 3), LABELS, torch.full((6, 3), math.nan), KEY_LABELS), "key"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call(GML(PRIOR))
    with pytest.raises(ValueError, match="class_prior"):
        GML(torch.tensor([0.5, 0.6]))
    with pytest.raises(ValueError, match="class_prior"):
        GML(torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="temperature"):
        GML(PRIOR, temperature=0)
