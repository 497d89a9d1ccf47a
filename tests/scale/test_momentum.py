"""MomentumEncoder: the EMA of MoCo Eq. 2 against a float64 loop, its schedule, and resume."""

import math

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from contrastkit.scale import MomentumEncoder
from tests.helpers import assert_close, randn


def encoder(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()


def perturb(module, seed):
    with torch.no_grad():
        for i, p in enumerate(module.parameters()):
            p.add_(randn(*p.shape, seed=seed * 100 + i))


def test_constant_momentum_matches_a_loop():
    online = encoder()
    key = MomentumEncoder(online, momentum=0.9)
    expected = [p.detach().clone() for p in online.parameters()]
    for step in range(3):
        perturb(online, step)
        used = key.update(online)
        assert used == 0.9
        expected = [0.9 * e + 0.1 * p.detach() for e, p in zip(expected, online.parameters())]
    for a, b in zip(key.encoder.parameters(), expected):
        assert_close(a, b)
    assert int(key.step) == 3
    assert all(not p.requires_grad for p in key.parameters())


def test_cosine_schedule_by_hand():
    key = MomentumEncoder(encoder(), momentum=0.9, schedule="cosine", total_steps=4)
    online = encoder(1)
    seen = [key.update(online) for _ in range(6)]
    by_hand = [0.9, 1 - 0.1 * (math.cos(math.pi / 4) + 1) / 2, 0.95,
               1 - 0.1 * (math.cos(3 * math.pi / 4) + 1) / 2, 1.0, 1.0]
    for a, b in zip(seen, by_hand):
        assert math.isclose(a, b, rel_tol=0, abs_tol=1e-15)


def test_forward_has_no_graph_and_copy_is_independent():
    online = encoder()
    key = MomentumEncoder(online, momentum=0.5).eval()
    out = key(randn(5, 3))
    assert not out.requires_grad
    perturb(online, 7)
    assert not torch.equal(next(online.parameters()), next(key.encoder.parameters()))


def test_state_survives_a_safetensors_round_trip(tmp_path):
    online = encoder()
    uninterrupted = MomentumEncoder(online, momentum=0.8, schedule="cosine", total_steps=5)
    resumed = MomentumEncoder(online, momentum=0.8, schedule="cosine", total_steps=5)
    for step in range(2):
        perturb(online, step)
        uninterrupted.update(online)
        resumed.update(online)
    save_file(resumed.state_dict(), tmp_path / "momentum.safetensors")
    fresh = MomentumEncoder(encoder(3), momentum=0.8, schedule="cosine", total_steps=5)
    fresh.load_state_dict(load_file(tmp_path / "momentum.safetensors"))
    perturb(online, 5)
    assert fresh.update(online) == uninterrupted.update(online)
    for a, b in zip(fresh.state_dict().values(), uninterrupted.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("make, match", [
    (lambda: MomentumEncoder(encoder(), momentum=1.5), "momentum"),
    (lambda: MomentumEncoder(encoder(), schedule="linear"), "schedule"),
    (lambda: MomentumEncoder(encoder(), schedule="cosine"), "total_steps"),
    (lambda: MomentumEncoder(encoder()).update(nn.Linear(3, 2)), "online"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()
