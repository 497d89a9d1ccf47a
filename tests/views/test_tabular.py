"""SCARF corruption (exact subset size, empirical marginals, uniform subsets) and CLAN resampling."""

import itertools
import math

import pytest
import torch

from contrastkit.views import CLANViews, SCARFCorruption, SCARFViews, clan_augment
from tests.helpers import randn

# chi-square upper 0.1% quantiles by degrees of freedom (scipy.stats.chi2.ppf(0.999, dof))
CHI2_999 = {1: 10.828, 5: 20.515}


def _chi_square(counts: torch.Tensor, expected: float) -> float:
    return float(((counts.double() - expected) ** 2 / expected).sum())


def test_exactly_q_features_replaced_by_training_values_of_that_column():
    train = randn(50, 7, seed=1)
    x = randn(200, 7, seed=2)  # continuous and disjoint from train: every replacement is visible
    corrupt = SCARFCorruption(train, corruption_rate=0.6)
    assert corrupt.num_corrupted == math.floor(0.6 * 7) == 4
    out, mask = corrupt(x, generator=torch.Generator().manual_seed(0), return_mask=True)
    assert out.dtype == x.dtype and out.shape == x.shape
    changed = out != x
    assert torch.equal(changed, mask)
    assert (changed.sum(1) == 4).all()
    for j in range(7):
        replaced = out[mask[:, j], j]
        assert torch.isin(replaced, train[:, j]).all(), f"feature {j} drew a value outside its column"
        assert not torch.isin(replaced, torch.cat([train[:, :j], train[:, j + 1:]], 1)).any()


def test_subset_choice_is_uniform_over_all_subsets():
    m, rows = 4, 6000
    corrupt = SCARFCorruption(torch.arange(8.0).view(2, 4), corruption_rate=0.5)  # q = 2 of 4: 6 subsets
    _, mask = corrupt(torch.zeros(rows, m), generator=torch.Generator().manual_seed(0), return_mask=True)
    subsets = list(itertools.combinations(range(m), 2))
    code = {s: k for k, s in enumerate(subsets)}
    chosen = torch.tensor([code[tuple(torch.nonzero(r).flatten().tolist())] for r in mask])
    counts = torch.bincount(chosen, minlength=len(subsets))
    assert _chi_square(counts, rows / len(subsets)) < CHI2_999[5]


def test_replacements_follow_the_empirical_marginal_not_the_distinct_values():
    train = torch.tensor([[0.0], [0.0], [0.0], [1.0]]).repeat(1, 2)  # value 1 has frequency 1/4
    corrupt = SCARFCorruption(train, corruption_rate=0.5)  # q = 1 of 2
    x = torch.full((8000, 2), 5.0)
    out, mask = corrupt(x, generator=torch.Generator().manual_seed(1), return_mask=True)
    drawn = out[mask]
    assert torch.isin(drawn, torch.tensor([0.0, 1.0])).all()
    ones = int((drawn == 1).sum())
    expected = torch.tensor([0.25, 0.75], dtype=torch.float64) * drawn.numel()
    observed = torch.tensor([ones, drawn.numel() - ones], dtype=torch.float64)
    assert float(((observed - expected) ** 2 / expected).sum()) < CHI2_999[1]  # 1/2 would fail by far


def test_seeded_and_device_dtype_follow_input():
    train = randn(10, 5, seed=3, dtype=torch.float32)
    corrupt = SCARFCorruption(train)
    x = randn(6, 5, seed=4, dtype=torch.float32)
    a = corrupt(x, generator=torch.Generator().manual_seed(7))
    b = corrupt(x, generator=torch.Generator().manual_seed(7))
    c = corrupt(x, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert corrupt(x.double()).dtype == torch.float64


@pytest.mark.parametrize(("rate", "match"), [(0.0, "corruption_rate"), (1.0, "corruption_rate"),
                                             (-0.2, "corruption_rate"), (0.1, "no feature")])
def test_bad_corruption_rate(rate, match):
    with pytest.raises(ValueError, match=match):
        SCARFCorruption(torch.zeros(3, 5), corruption_rate=rate)


def test_bad_tables():
    with pytest.raises(ValueError, match="train_features"):
        SCARFCorruption(torch.zeros(5))
    with pytest.raises(ValueError, match="train_features"):
        SCARFCorruption(torch.zeros(0, 5))
    with pytest.raises(ValueError, match="train_features"):
        SCARFCorruption(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match="x: expected 3 features"):
        SCARFCorruption(torch.zeros(2, 3))(torch.zeros(4, 2))


def test_clan_augment_replaces_a_p_fraction_with_uniform_noise():
    x = randn(4000, 10, seed=5, dtype=torch.float32)
    out, mask = clan_augment(x, generator=torch.Generator().manual_seed(0), return_mask=True)
    assert torch.equal(out[~mask], x[~mask])
    replaced = out[mask]
    assert (replaced.abs() <= 1.7).all()
    frac = mask.double().mean().item()
    assert abs(frac - 0.1) < 4 * math.sqrt(0.1 * 0.9 / mask.numel())
    assert abs(replaced.mean().item()) < 4 * 1.7 / math.sqrt(3 * replaced.numel())  # Uniform(-a, a) mean 0
    assert abs(replaced.var().item() - 1.7**2 / 3) < 0.05


def test_clan_augment_sample_probability_and_shift():
    x = torch.zeros(2000, 8)
    out, mask = clan_augment(x, p_feature=1.0, p_sample=0.3, mean=10.0, max_value=0.5,
                             generator=torch.Generator().manual_seed(2), return_mask=True)
    rows = mask.all(1)
    assert torch.equal(mask.any(1), rows)  # a selected row has every feature replaced when p_feature = 1
    assert abs(rows.double().mean().item() - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 2000)
    assert ((out[mask] >= 9.5) & (out[mask] <= 10.5)).all()


@pytest.mark.parametrize(("kwargs", "name"), [
    (dict(p_feature=1.5), "p_feature"), (dict(p_sample=-0.1), "p_sample"), (dict(max_value=0.0), "max_value"),
])
def test_clan_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        clan_augment(torch.zeros(3, 4), **kwargs)


def test_clan_bad_input():
    with pytest.raises(ValueError, match="x: expected a floating"):
        clan_augment(torch.zeros(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="x: expected a 2-D"):
        clan_augment(torch.zeros(3))


def test_view_generators_follow_the_trainer_protocol():
    train, x = randn(20, 6, seed=6), randn(5, 6, seed=7)
    clean, corrupted = SCARFViews(train, corruption_rate=0.5)(x, torch.Generator().manual_seed(1))
    assert clean is x
    assert torch.equal(corrupted, SCARFCorruption(train, 0.5)(x, torch.Generator().manual_seed(1)))
    original, augmented = CLANViews(p_feature=0.5)(x, torch.Generator().manual_seed(2))
    assert original is x
    assert torch.equal(augmented, clan_augment(x, p_feature=0.5, generator=torch.Generator().manual_seed(2)))
    with pytest.raises(ValueError, match="p_feature"):
        CLANViews(p_feature=2.0)


@pytest.mark.gpu
def test_cpu_generator_drives_cuda_data():
    train, x = randn(20, 6, seed=6).cuda(), randn(5, 6, seed=7).cuda()
    a = SCARFViews(train)(x, torch.Generator().manual_seed(1))[1]
    b = SCARFViews(train.cpu())(x.cpu(), torch.Generator().manual_seed(1))[1]
    assert a.is_cuda and torch.equal(a.cpu(), b)
    c = clan_augment(x, generator=torch.Generator().manual_seed(2))
    d = clan_augment(x.cpu(), generator=torch.Generator().manual_seed(2))
    assert c.is_cuda and torch.equal(c.cpu(), d)
