"""SimCTG's token contrastive margin against a float64 loop (with padding), bad input."""

import pytest
import torch

from contrastkit.losses import SimCTG
from tests.helpers import assert_same, randn


def ref_simctg(hidden, mask, margin):
    per, used = [], 0
    for b in range(hidden.shape[0]):
        kept = [hidden[b, t] / hidden[b, t].norm() for t in range(hidden.shape[1]) if mask[b, t]]
        n = len(kept)
        if n < 2:
            continue
        total = sum(torch.clamp(margin - 1 + kept[i] @ kept[j], min=0)
                    for i in range(n) for j in range(n) if i != j)
        per.append(total / (n * (n - 1)))
        used += 1
    return sum(per) / max(used, 1)


@pytest.mark.parametrize("margin", [0.5, 1.2])
def test_matches_the_formula_with_padding(margin):
    hidden = randn(3, 5, 4, seed=1)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    assert_same(lambda h: SimCTG(margin)(h, mask), lambda h: ref_simctg(h, mask, margin), hidden)


def test_identical_tokens_cost_the_margin_and_orthogonal_ones_nothing():
    same = torch.ones(1, 4, 3, dtype=torch.float64)
    assert float(SimCTG(0.5)(same)) == pytest.approx(0.5)
    assert float(SimCTG(0.5)(torch.eye(3, dtype=torch.float64)[None])) == 0.0


@pytest.mark.parametrize("call, name", [
    (lambda l: l(randn(3, 4)), "hidden"),
    (lambda l: l(randn(2, 3, 4), torch.ones(2, 4, dtype=torch.bool)), "mask"),
    (lambda l: l(torch.full((1, 2, 3), float("nan"))), "hidden"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call(SimCTG())
    with pytest.raises(ValueError, match="margin"):
        SimCTG(float("inf"))
