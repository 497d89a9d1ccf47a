"""SyCL's list-wise distance over graded relevance against a float64 loop, bad input."""

import math

import pytest
import torch

from contrastkit.losses import SyCL
from tests.helpers import assert_close, assert_same, randn

GRADES = torch.tensor([[3.0, 2.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0, 2.0, 0.0, 1.0]], dtype=torch.float64)


def ref_sycl(query, documents, relevance, tau, distance):
    total = 0.0
    for i in range(query.shape[0]):
        qi = query[i] / query[i].norm()
        scores = [qi @ (dl / dl.norm()) / tau for dl in documents[i]]
        z = sum(torch.exp(s) for s in scores)
        p = [torch.exp(s) / z for s in scores]
        r = [float(x) / float(relevance[i].sum()) for x in relevance[i]]
        if distance == "kl":
            total = total + sum(r[l] * (math.log(r[l]) - torch.log(p[l])) for l in range(len(p)) if r[l] > 0)
        else:
            cum, term = 0.0, 0.0
            for l in range(len(p) - 1):
                cum = cum + p[l] - r[l]
                term = term + abs(cum)
            total = total + term
    return total / query.shape[0]


@pytest.mark.parametrize("distance", ["wasserstein", "kl"])
def test_matches_the_formula(distance):
    query, documents = randn(3, 5, seed=1), randn(3, 4, 5, seed=2)
    loss = SyCL(temperature=0.5, distance=distance)
    assert_same(lambda a, b: loss(a, b, GRADES), lambda a, b: ref_sycl(a, b, GRADES, 0.5, distance),
                query, documents)


@pytest.mark.parametrize("distance", ["wasserstein", "kl"])
def test_gradcheck_non_negative_and_zero_at_the_target(distance):
    query = randn(3, 4, seed=3, requires_grad=True)
    documents = randn(3, 4, 4, seed=4, requires_grad=True)
    loss = SyCL(temperature=0.3, distance=distance)
    assert torch.autograd.gradcheck(lambda a, b: loss(a, b, GRADES), (query, documents))
    assert float(loss(query, documents, GRADES).detach()) >= 0
    # scores whose softmax is exactly the normalised grades: raw scores = log(grades)
    grades = torch.tensor([[3.0, 2.0, 1.0]], dtype=torch.float64)
    q = torch.ones(1, 1, dtype=torch.float64)
    docs = torch.log(grades)[..., None]
    exact = SyCL(temperature=1.0, distance=distance, normalize=False)
    assert_close(exact(q, docs, grades), torch.tensor(0.0, dtype=torch.float64))


def test_far_apart_scores_stay_finite():
    value = SyCL(temperature=1e-6, distance="kl")(randn(3, 4, seed=5), randn(3, 4, 4, seed=6), GRADES)
    assert math.isfinite(float(value)) and float(value) >= 0


@pytest.mark.parametrize("call, name", [
    (lambda l: l(randn(3, 4), randn(2, 4, 4), GRADES), "documents"),
    (lambda l: l(randn(3, 4), randn(3, 1, 4), GRADES[:, :1]), "documents"),
    (lambda l: l(randn(3, 4), randn(3, 4, 4), GRADES[:2]), "relevance"),
    (lambda l: l(randn(3, 4), randn(3, 4, 4), -GRADES), "relevance"),
    (lambda l: l(randn(3, 4), randn(3, 4, 4), GRADES * 0), "relevance"),
    (lambda l: l(randn(3, 4), randn(3, 4, 4), GRADES * math.nan), "relevance"),
    (lambda l: l(torch.full((3, 4), math.inf), randn(3, 4, 4), GRADES), "query"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call(SyCL())
    with pytest.raises(ValueError, match="distance"):
        SyCL(distance="emd")
    with pytest.raises(ValueError, match="temperature"):
        SyCL(temperature=-1.0)
