"""DCLR against a float64 loop: noise negatives (drawn, then moved by normalised gradient ascent)
and the phi weighting of in-batch false negatives; bad input."""

import pytest
import torch

from contrastkit.losses import DCLR
from tests.helpers import assert_same, randn, unit

TAU = 0.2


def ref_terms(h, hp, noise, phi):
    """Sum over anchors of -log e^{s_ii} / (sum_j alpha_ij e^{s_ij} + sum_k e^{s(h_i, noise_k)})."""
    h, hp, noise = unit(h), unit(hp), unit(noise)
    total = 0.0
    for i in range(h.shape[0]):
        terms = []
        for j, c in enumerate(list(hp) + list(noise)):
            cos = h[i] @ c
            if j == i or phi is None or float(cos.detach()) <= phi:
                terms.append(cos / TAU)
        total = total + torch.logsumexp(torch.stack(terms), 0) - h[i] @ hp[i] / TAU
    return total


def ref_dclr(h, hp, seed, num_noise, std, steps, step, phi):
    noise = torch.randn(num_noise, h.shape[1], generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float64) * std
    for _ in range(steps):
        leaf = noise.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(ref_terms(h.detach(), hp.detach(), leaf, phi), leaf)
        noise = noise + step * g / g.norm(dim=1, keepdim=True)
    return ref_terms(h, hp, noise.detach(), phi) / h.shape[0]


@pytest.mark.parametrize("steps, phi", [(0, None), (1, 0.5), (2, 0.3)])
def test_matches_the_loop(steps, phi):
    h = randn(6, 3, seed=1)
    hp = h + 0.3 * randn(6, 3, seed=2)

    def ours(a, b):
        loss = DCLR(TAU, num_noise=4, noise_std=0.7, ascent_steps=steps, ascent_step=0.5, phi=phi,
                    generator=torch.Generator().manual_seed(5))
        return loss(a, b)

    assert_same(ours, lambda a, b: ref_dclr(a, b, 5, 4, 0.7, steps, 0.5, phi), h, hp)


def test_counts_the_weighted_out_pairs_of_the_final_pass():
    h = randn(8, 3, seed=3)
    loss = DCLR(TAU, num_noise=2, ascent_steps=1, phi=0.2, generator=torch.Generator().manual_seed(0))
    loss(h, h + 0.1 * randn(8, 3, seed=4))
    assert 0 < int(loss.false_negative_count) < 8 * 10


@pytest.mark.parametrize("kwargs, name", [
    (dict(num_noise=0), "num_noise"), (dict(ascent_steps=-1), "ascent_steps"),
    (dict(noise_std=0.0), "noise_std"),
    (dict(ascent_step=-1.0), "ascent_step"), (dict(phi=float("nan")), "phi"), (dict(phi="0.9"), "phi")])
def test_bad_options(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DCLR(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="positive"):
        DCLR()(randn(4, 3), randn(5, 3))
