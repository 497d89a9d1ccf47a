import math

import pytest

from contrastkit.train.schedule import learning_rate


def test_warmup_is_linear_then_cosine_reaches_the_floor():
    kw = {"peak": 1.0, "total_steps": 11, "warmup_steps": 4, "min_ratio": 0.1}
    assert [learning_rate(s, **kw) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert learning_rate(4, **kw) == pytest.approx(1.0)
    assert learning_rate(10, **kw) == pytest.approx(0.1)
    # halfway through the decay (t' = 3 of T' = 6): floor + (peak - floor) / 2
    assert learning_rate(7, **kw) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 2)))


def test_constant_schedule_and_bad_name():
    assert learning_rate(50, peak=0.3, total_steps=100, schedule="constant") == 0.3
    with pytest.raises(ValueError, match="schedule"):
        learning_rate(0, peak=0.3, total_steps=100, schedule="step")
