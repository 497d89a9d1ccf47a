"""CLAIF's soft-target InfoNCE against a float64 loop (both smoothings, hard negatives), bad input."""

import math

import pytest
import torch

from contrastkit.losses import CLAIF
from tests.helpers import assert_same, randn

SCORES = torch.tensor([1.0, 0.8, 0.3, 0.0, 0.55], dtype=torch.float64)


def ref_claif(z1, z2, scores, tau, smoothing, hard=None):
    cands = z2 if hard is None else torch.cat([z2, hard])
    n, m = z1.shape[0], cands.shape[0]
    total = 0.0
    for i in range(n):
        logits = torch.stack([(z1[i] / z1[i].norm()) @ (c / c.norm()) / tau for c in cands])
        log_p = logits - torch.logsumexp(logits, 0)
        for j in range(m):
            if j == i:
                target = float(scores[i])
            else:
                target = (1 - float(scores[i])) / (m - 1) if smoothing == "all" else 0.0
            total = total - target * log_p[j]
    return total / n


@pytest.mark.parametrize("backend", ["reference", "streaming"])
@pytest.mark.parametrize("smoothing", ["all", "positive"])
@pytest.mark.parametrize("hard", [False, True])
def test_matches_the_formula(backend, smoothing, hard):
    z1, z2, z3 = randn(5, 4, seed=1), randn(5, 4, seed=2), randn(5, 4, seed=3)
    loss = CLAIF(0.5, smoothing=smoothing, backend=backend, tile_size=2)
    if hard:
        assert_same(lambda a, b, c: loss(a, b, SCORES, c),
                    lambda a, b, c: ref_claif(a, b, SCORES, 0.5, smoothing, c), z1, z2, z3)
    else:
        assert_same(lambda a, b: loss(a, b, SCORES), lambda a, b: ref_claif(a, b, SCORES, 0.5, smoothing),
                    z1, z2)


def test_score_one_is_infonce_and_gradcheck():
    z1 = randn(4, 3, seed=4, requires_grad=True)
    z2 = randn(4, 3, seed=5, requires_grad=True)
    ones = torch.ones(4, dtype=torch.float64)
    logits = torch.nn.functional.normalize(z1, dim=1) @ torch.nn.functional.normalize(z2, dim=1).T / 0.3
    infonce = torch.nn.functional.cross_entropy(logits, torch.arange(4))
    torch.testing.assert_close(CLAIF(0.3)(z1, z2, ones), infonce)
    assert torch.autograd.gradcheck(lambda a, b: CLAIF(0.3)(a, b, SCORES[:4]), (z1, z2))
    value = CLAIF(1e-6)(z1, z2, SCORES[:4])
    assert math.isfinite(float(value.detach())) and float(value.detach()) >= 0


@pytest.mark.parametrize("call, name", [
    (lambda l: l(randn(5, 3), randn(4, 3), SCORES), "z2"),
    (lambda l: l(randn(5, 3), randn(5, 3), SCORES[:4]), "scores"),
    (lambda l: l(randn(5, 3), randn(5, 3), SCORES + 0.5), "scores"),
    (lambda l: l(randn(5, 3), randn(5, 3), SCORES * math.nan), "scores"),
    (lambda l: l(randn(1, 3), randn(1, 3), SCORES[:1]), "z1"),
    (lambda l: l(randn(5, 3), randn(5, 3), SCORES, randn(4, 3)), "hard_negative"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call(CLAIF())
    with pytest.raises(ValueError, match="smoothing"):
        CLAIF(smoothing="none")
