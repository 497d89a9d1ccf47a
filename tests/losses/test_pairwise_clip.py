"""PairwiseCLIP against a naive float64 sum over modality pairs of a per-pair CLIP loop."""

import math

import pytest
import torch

from contrastkit.losses import CLIPLoss, PairwiseCLIP
from tests.helpers import assert_close, randn, unit


def ref_clip(a, b, tau):
    """Per-pair loop CLIP loss (Radford et al., 2021, Figure 3), float64."""
    a, b = unit(a), unit(b)
    n = a.shape[0]
    terms = []
    for i in range(n):
        row = torch.stack([a[i] @ b[j] / tau for j in range(n)])
        col = torch.stack([a[j] @ b[i] / tau for j in range(n)])
        terms.append(0.5 * ((-row[i] + torch.logsumexp(row, 0)) + (-col[i] + torch.logsumexp(col, 0))))
    return torch.stack(terms).mean()


def ref_pairwise(tensors, taus):
    """sum_{a<b} CLIP(Z_a, Z_b); ``taus`` gives one temperature per pair in (a, b) order."""
    pairs = [(a, b) for a in range(len(tensors)) for b in range(a + 1, len(tensors))]
    return sum(ref_clip(tensors[a], tensors[b], taus[k]) for k, (a, b) in enumerate(pairs))


@pytest.mark.parametrize("m, n, d", [(2, 4, 3), (3, 5, 4), (4, 3, 6)])
def test_values_and_gradients_match_the_naive_reference(m, n, d):
    loss = PairwiseCLIP(temperature=0.2).double()
    log_tau = loss.pair_losses[0].temperature.log_temperature
    xs = [randn(n, d, seed=10 + k, requires_grad=True) for k in range(m)]
    value = loss(xs)
    g = torch.autograd.grad(value, (*xs, log_tau))

    ref_log_tau = log_tau.detach().clone().requires_grad_(True)
    ys = [x.detach().clone().requires_grad_(True) for x in xs]
    ref_value = ref_pairwise(ys, [ref_log_tau.exp()] * (m * (m - 1) // 2))
    ref_g = torch.autograd.grad(ref_value, (*ys, ref_log_tau))
    assert_close(value, ref_value)
    for ours, ref in zip(g, ref_g):
        assert_close(ours, ref)


def test_per_pair_temperatures_and_mapping_input():
    loss = PairwiseCLIP(temperature=0.5, num_modalities=3, shared_temperature=False).double()
    taus = [0.5, 0.25, 0.1]
    with torch.no_grad():
        for module, tau in zip(loss.pair_losses, taus):
            module.temperature.log_temperature.fill_(math.log(tau))
    xs = {"audio": randn(6, 5, seed=1), "text": randn(6, 5, seed=2), "video": randn(6, 5, seed=3)}
    assert_close(loss(xs), ref_pairwise(list(xs.values()), taus))


def test_two_modalities_equal_clip_and_closed_form():
    a, b = randn(5, 3, seed=4), randn(5, 3, seed=5)
    fixed = dict(learnable_temperature=False)
    assert_close(PairwiseCLIP(0.3, **fixed)([a, b]), CLIPLoss(0.3, **fixed)(a, b))
    # Three copies of the identity: each of the 3 pairs gives -1/tau + log(e^{1/tau} + N - 1).
    n, tau = 4, 0.5
    eye = torch.eye(n, dtype=torch.float64)
    expected = 3 * (-1 / tau + math.log(math.exp(1 / tau) + n - 1))
    assert_close(PairwiseCLIP(tau, **fixed)([eye, eye, eye]), expected)


def test_gradcheck():
    loss = PairwiseCLIP(temperature=0.3, learnable_temperature=False)
    xs = [randn(3, 2, seed=k, requires_grad=True) for k in range(3)]
    assert torch.autograd.gradcheck(lambda *t: loss(list(t)), xs)


@pytest.mark.parametrize("call, name", [
    (lambda l: l([randn(4, 3)]), "modalities"),
    (lambda l: l(randn(4, 3)), "modalities"),
    (lambda l: l([randn(4, 3), randn(4, 3), randn(5, 3)]), r"modalities\[2\]"),
    (lambda l: l({"image": randn(4, 3), "text": randn(4, 2)}), "text"),
    (lambda l: l([randn(4, 3), torch.full((4, 3), float("nan"))]), r"modalities\[1\]"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call(PairwiseCLIP())


def test_bad_construction():
    with pytest.raises(ValueError, match="temperature"):
        PairwiseCLIP(temperature=0.0)
    with pytest.raises(ValueError, match="num_modalities"):
        PairwiseCLIP(shared_temperature=False)
    with pytest.raises(ValueError, match="num_modalities"):
        PairwiseCLIP(num_modalities=1)
    with pytest.raises(ValueError, match="modalities"):
        PairwiseCLIP(num_modalities=3)([randn(4, 3), randn(4, 3)])
    with pytest.raises(ValueError, match="reduction"):
        PairwiseCLIP(reduction="none")


@pytest.fixture
def one_thread():
    """Tiny models train far faster on one thread on a shared machine (no OpenMP contention)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_training_three_towers_aligns_every_pair(one_thread):
    """Generated three-modality data: one latent per sample seen through three different noisy
    non-linear maps; three small towers trained with PairwiseCLIP retrieve across every pair far
    above chance (1/N), while untrained towers do not."""
    from contrastkit.evaluate import retrieval_metrics

    g = torch.Generator().manual_seed(0)
    n, latent = 512, 8

    def modality(width):
        mix = torch.randn(latent, width, generator=g)
        return lambda z: torch.tanh(z @ mix) + 0.1 * torch.randn(z.shape[0], width, generator=g)

    maps = [modality(w) for w in (16, 24, 12)]
    towers = torch.nn.ModuleList(torch.nn.Sequential(torch.nn.Linear(w, 32), torch.nn.ReLU(),
                                                     torch.nn.Linear(32, 16)) for w in (16, 24, 12))
    loss = PairwiseCLIP(temperature=0.1)
    optimizer = torch.optim.Adam([*towers.parameters(), *loss.parameters()], lr=1e-2)
    test_z = torch.randn(n, latent, generator=g)
    test = [f(test_z) for f in maps]

    def recall_at_1():
        with torch.no_grad():
            z = [t(x) for t, x in zip(towers, test)]
        return [retrieval_metrics(z[a], z[b], [{i} for i in range(n)], ks=(1,))["recall@1"]
                for a, b in ((0, 1), (0, 2), (1, 2))]

    before = recall_at_1()
    for _ in range(100):
        z = torch.randn(256, latent, generator=g)
        value = loss([t(f(z)) for t, f in zip(towers, maps)])
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
    after = recall_at_1()
    assert max(before) < 0.05
    assert min(after) > 0.25, after  # chance is 1/512 = 0.002


def test_one_instance_names_the_modality():
    # the pair loss used to raise "a: expected at least 2 instances", naming no argument of PairwiseCLIP
    with pytest.raises(ValueError, match=r"^modalities\[0\]: expected at least 2 instances"):
        PairwiseCLIP()([randn(1, 4, seed=i) for i in range(3)])
