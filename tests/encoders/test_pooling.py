"""Pooling functions against per-sentence loops over the real tokens only."""

import pytest
import torch

from contrastkit.encoders.pooling import avg_first_last_pool, check_pooling, cls_pool, max_pool, mean_pool
from tests.helpers import assert_close, randn


def _padded_batch():
    states = randn(3, 5, 4, seed=1)
    lengths = [5, 2, 1]
    mask = torch.tensor([[1] * n + [0] * (5 - n) for n in lengths])
    states[mask == 0] = 1e6  # padding must never leak into the result
    return states, mask, lengths


def test_mean_max_cls_match_loops_over_real_tokens():
    states, mask, lengths = _padded_batch()
    expected_mean = torch.stack([states[i, :n].mean(0) for i, n in enumerate(lengths)])
    expected_max = torch.stack([states[i, :n].max(0).values for i, n in enumerate(lengths)])
    assert_close(mean_pool(states, mask), expected_mean)
    assert_close(max_pool(states, mask), expected_max)
    assert_close(cls_pool(states, mask), states[:, 0])


def test_avg_first_last_uses_first_layer_not_embeddings():
    states, mask, lengths = _padded_batch()
    embeddings, first, last = randn(3, 5, 4, seed=7), states, randn(3, 5, 4, seed=8)
    got = avg_first_last_pool((embeddings, first, randn(3, 5, 4, seed=9), last), mask)
    expected = torch.stack([((first[i, :n] + last[i, :n]) / 2).mean(0) for i, n in enumerate(lengths)])
    assert_close(got, expected)


def test_half_precision_mean_accumulates_in_float32():
    states = torch.full((1, 4096, 2), 1.0 + 2**-7, dtype=torch.bfloat16)  # exact in bfloat16
    out = mean_pool(states, torch.ones(1, 4096, dtype=torch.long))
    assert out.dtype == torch.bfloat16
    assert_close(out.float(), torch.full((1, 2), 1.0 + 2**-7), rtol=0, atol=0)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="pooling"):
        check_pooling("avg")
    with pytest.raises(ValueError, match="token_states"):
        mean_pool(torch.zeros(2, 3), torch.ones(2, 3))
    with pytest.raises(ValueError, match="attention_mask"):
        max_pool(torch.zeros(2, 3, 4), torch.ones(2, 4))
    with pytest.raises(ValueError, match="hidden_states"):
        avg_first_last_pool((torch.zeros(1, 2, 3),), torch.ones(1, 2))
