"""NCE and negative sampling (text <-> label descriptions) against a float64 loop, bad input."""

import math

import pytest
import torch

from contrastkit.losses import NCE
from tests.helpers import assert_close, assert_same, randint, randn

NOISE = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)


def log_sigmoid(x):
    return -math.log1p(math.exp(-x)) if x > 0 else x - math.log1p(math.exp(x))


def ref_nce(text, labels_emb, labels, noise, k, tau, variant, samples=None):
    total = 0.0
    for i in range(text.shape[0]):
        t = text[i] / text[i].norm()

        def delta(j, t=t):
            s = t @ (labels_emb[j] / labels_emb[j].norm()) / tau
            return s - math.log(k * float(noise[j])) if variant == "nce" else s

        term = -torch.nn.functional.logsigmoid(delta(int(labels[i])))
        if samples is None:
            for j in range(labels_emb.shape[0]):
                term = term - k * float(noise[j]) * torch.nn.functional.logsigmoid(-delta(j))
        else:
            for j in samples[i]:
                term = term - torch.nn.functional.logsigmoid(-delta(int(j)))
        total = total + term
    return total / text.shape[0]


@pytest.mark.parametrize("variant", ["nce", "negative_sampling"])
@pytest.mark.parametrize("sampled", [False, True])
def test_matches_the_formula(variant, sampled):
    text, emb, labels = randn(6, 5, seed=1), randn(4, 5, seed=2), randint(4, 6, seed=3)
    loss = NCE(NOISE, num_noise=3, temperature=0.5, variant=variant)
    samples = loss.sample_noise(6, torch.Generator().manual_seed(4)) if sampled else None
    assert_same(lambda a, b: loss(a, b, labels, samples),
                lambda a, b: ref_nce(a, b, labels, NOISE, 3, 0.5, variant, samples), text, emb)


def test_gradcheck_and_non_negative():
    text = randn(3, 4, seed=5, requires_grad=True)
    emb = randn(4, 4, seed=6, requires_grad=True)
    labels = torch.tensor([0, 3, 1])
    loss = NCE(NOISE, num_noise=2, temperature=0.3)
    assert torch.autograd.gradcheck(lambda a, b: loss(a, b, labels), (text, emb))
    assert float(loss(text, emb, labels).detach()) >= 0
    # far-apart scores: still finite and non-negative (softplus, no log of 0)
    cold = NCE(NOISE, temperature=1e-6)
    value = cold(text, emb, labels)
    assert math.isfinite(float(value.detach())) and float(value.detach()) >= 0


def test_the_expectation_is_what_sampling_estimates():
    text, emb, labels = randn(5, 3, seed=7), randn(4, 3, seed=8), randint(4, 5, seed=9)
    loss = NCE(NOISE, num_noise=4, temperature=0.5)
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([loss(text, emb, labels, loss.sample_noise(5, g)) for _ in range(4000)])
    assert_close(draws.mean(), loss(text, emb, labels), rtol=0, atol=3 * float(draws.std()) / 60)


@pytest.mark.parametrize("build, call, name", [
    (lambda: NCE(torch.tensor([0.5, 0.6])), None, "noise"),
    (lambda: NCE(torch.tensor([1.0, 0.0])), None, "noise"),
    (lambda: NCE(torch.tensor([0.5, 0.5]), num_noise=0), None, "num_noise"),
    (lambda: NCE(torch.tensor([0.5, 0.5]), temperature=0.0), None, "temperature"),
    (lambda: NCE(torch.tensor([0.5, 0.5]), variant="x"), None, "variant"),
    (lambda: NCE(NOISE), lambda l: l(randn(2, 3), randn(3, 3), torch.tensor([0, 1])), "label_embeddings"),
    (lambda: NCE(NOISE), lambda l: l(randn(2, 3), randn(4, 2), torch.tensor([0, 1])), "label_embeddings"),
    (lambda: NCE(NOISE), lambda l: l(randn(2, 3), randn(4, 3), torch.tensor([0, 4])), "labels"),
    (lambda: NCE(NOISE), lambda l: l(randn(2, 3), randn(4, 3), torch.tensor([0])), "labels"),
    (lambda: NCE(NOISE), lambda l: l(torch.full((2, 3), math.nan), randn(4, 3), torch.tensor([0, 1])),
     "text"),
    (lambda: NCE(NOISE, num_noise=2),
     lambda l: l(randn(2, 3), randn(4, 3), torch.tensor([0, 1]), torch.tensor([[0, 9], [1, 1]])),
     "noise_samples"),
    (lambda: NCE(NOISE, num_noise=2),
     lambda l: l(randn(2, 3), randn(4, 3), torch.tensor([0, 1]), torch.zeros(2, 3, dtype=torch.long)),
     "noise_samples"),
])
def test_bad_input(build, call, name):
    with pytest.raises(ValueError, match=name):
        call(build()) if call else build()
