"""Loss contracts found open by mutation testing: the smallest batch each loss accepts, and shape errors
that name both arguments."""

import pytest
import torch

from contrastkit.losses import DHEL, KCL, SupervisedSimCSE
from tests.helpers import randn


@pytest.mark.parametrize("loss", [KCL(), DHEL()])
def test_two_rows_are_enough(loss):
    """Two pairs give each anchor one negative: the smallest batch these losses define."""
    value = loss(randn(2, 3, seed=1), randn(2, 3, seed=2))
    assert torch.isfinite(value)
    with pytest.raises(ValueError, match="z1"):
        loss(randn(1, 3, seed=1), randn(1, 3, seed=2))


def test_simcse_hard_negative_shape_error_names_both_arguments():
    with pytest.raises(ValueError, match=r"hard_negative") as error:
        SupervisedSimCSE()(randn(4, 3), randn(4, 3, seed=1), randn(5, 3, seed=2))
    assert "anchor" in str(error.value)
