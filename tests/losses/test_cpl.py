"""CPL against a float64 loop of Eq. 5/6, masks and discounting, bad input, and a small learning test
on generated preference data (a tabular policy recovers the preferred actions)."""

import math

import pytest
import torch

from contrastkit.losses import CPL
from tests.helpers import assert_same, randn


def log_probs(*shape, seed):
    return -randn(*shape, seed=seed).abs() - 0.01


def ref_cpl(pos, neg, alpha, gamma, lam, pos_mask=None, neg_mask=None):
    total = 0.0
    for b in range(pos.shape[0]):
        sp = sum(gamma ** t * pos[b, t] for t in range(pos.shape[1]) if pos_mask is None or pos_mask[b, t])
        sn = sum(gamma ** t * neg[b, t] for t in range(neg.shape[1]) if neg_mask is None or neg_mask[b, t])
        x = alpha * (sp - lam * sn)
        total = total - torch.log(1 / (1 + torch.exp(-x)))
    return total / pos.shape[0]


@pytest.mark.parametrize("alpha, gamma, lam", [(0.1, 1.0, 1.0), (0.5, 0.9, 0.5)])
def test_matches_the_formula(alpha, gamma, lam):
    pos, neg = log_probs(4, 5, seed=1), log_probs(4, 5, seed=2)
    assert_same(CPL(alpha, gamma, lam), lambda a, b: ref_cpl(a, b, alpha, gamma, lam), pos, neg)


def test_masks_allow_different_lengths():
    pos, neg = log_probs(3, 4, seed=3), log_probs(3, 6, seed=4)
    pm = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype=torch.bool)
    nm = torch.ones(3, 6, dtype=torch.bool)
    nm[0, 4:] = False
    assert_same(lambda a, b: CPL(0.3, 0.95)(a, b, pm, nm), lambda a, b: ref_cpl(a, b, 0.3, 0.95, 1.0, pm, nm),
                pos, neg)


def test_learns_the_preferred_actions_from_generated_preferences():
    """A 3-state, 4-action expert prefers action (s + 1) mod 4; segments from the expert are preferred
    over uniformly random ones. CPL on a tabular softmax policy must put most mass on the expert's
    actions (and the loss must fall)."""
    g = torch.Generator().manual_seed(0)
    states, actions, length, pairs = 3, 4, 6, 64
    expert = (torch.arange(states) + 1) % actions
    s_pos = torch.randint(0, states, (pairs, length), generator=g)
    s_neg = torch.randint(0, states, (pairs, length), generator=g)
    a_pos, a_neg = expert[s_pos], torch.randint(0, actions, (pairs, length), generator=g)
    logits = torch.zeros(states, actions, requires_grad=True)
    loss_fn = CPL(alpha=0.5, lam=0.5)
    opt = torch.optim.Adam([logits], lr=0.1)
    first = None
    for _ in range(150):
        logp = torch.log_softmax(logits, dim=1)
        loss = loss_fn(logp[s_pos, a_pos], logp[s_neg, a_neg])
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    policy = torch.softmax(logits.detach(), dim=1)
    assert float(loss.detach()) < 0.5 * first
    assert torch.equal(policy.argmax(dim=1), expert)
    assert float(policy[torch.arange(states), expert].min()) > 0.5


def test_value_is_non_negative_and_finite_for_extreme_log_probs():
    pos = torch.full((2, 3), -1e4)
    neg = torch.zeros(2, 3)
    value = CPL(alpha=1.0)(pos, neg)
    assert torch.isfinite(value) and value >= 0
    assert float(CPL(alpha=1.0)(neg, pos)) == pytest.approx(0.0, abs=1e-6)
    assert math.isclose(float(CPL()(neg, neg)), math.log(2), rel_tol=1e-6)


@pytest.mark.parametrize("pos, neg, masks, name", [
    (torch.full((2, 3), 0.1), torch.zeros(2, 3), (None, None), "preferred"),  # probability > 1
    (torch.zeros(2, 3), torch.full((2, 3), float("nan")), (None, None), "rejected"),
    (torch.zeros(2, 3), torch.full((2, 3), -float("inf")), (None, None), "rejected"),  # probability 0
    (torch.zeros(2, 3), torch.zeros(2, 4), (None, None), "rejected_mask"),  # lengths differ, no masks
    (torch.zeros(2, 3), torch.zeros(3, 3), (None, None), "rejected"),
    (torch.zeros(2, 3), torch.zeros(2, 3), (torch.ones(2, 2), None), "preferred_mask"),
])
def test_bad_input_names_the_argument(pos, neg, masks, name):
    with pytest.raises(ValueError, match=name):
        CPL()(pos, neg, *masks)


@pytest.mark.parametrize("kwargs, name", [(dict(alpha=0.0), "alpha"), (dict(lam=1.5), "lam"),
                                          (dict(lam=0.0), "lam"), (dict(gamma=float("nan")), "gamma")])
def test_bad_options(kwargs, name):
    with pytest.raises(ValueError, match=name):
        CPL(**kwargs)


def test_an_overflowing_scaled_difference_raises_instead_of_inf():
    # float32 log-probabilities near -1e30 times a large alpha gave an inf loss
    pos = (log_probs(65, 1, seed=1) * 1e30).float()
    neg = (log_probs(65, 1, seed=2) * 1e30).float()
    with pytest.raises(ValueError, match=r"^preferred, rejected: alpha times"):
        CPL(alpha=1e9)(pos, neg)
