"""Loss contracts found open by mutation testing: the smallest batch each loss accepts, and shape errors
that name both arguments."""

import pytest
import torch

from contrastkit.losses import (
    DHEL,
    KCL,
    CLIPLoss,
    InfoNCE,
    LightGCLContrastive,
    SigLIP,
    SupCon,
    SupervisedSimCSE,
    alignment,
)
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


@pytest.mark.parametrize("loss, args, message", [
    (SigLIP(), (randn(4, 3), randn(5, 3)), r"^b: shape \(5, 3\) does not match a's \(4, 3\)"),
    (CLIPLoss(), (randn(4, 3), randn(5, 3)), r"^b: shape \(5, 3\) does not match a's \(4, 3\)"),
    (alignment, (randn(4, 3), randn(5, 3)), r"^y: shape \(5, 3\) does not match x's \(4, 3\)"),
    (alignment, (randn(4, 3), torch.ones(4)), r"^y"),
])
def test_shape_errors_name_both_arguments(loss, args, message):
    with pytest.raises(ValueError, match=message):
        loss(*args)


def test_lightgcl_shape_error_names_the_svd_and_main_views():
    loss = LightGCLContrastive()
    with pytest.raises(ValueError, match=r"^main_view: shape \(5, 3\) does not match svd_view's"):
        loss.node_loss(randn(4, 3), randn(5, 3), torch.tensor([0, 1]))


def test_boolean_indices_are_rejected_by_name():
    with pytest.raises(ValueError, match=r"^labels"):
        SupCon()(randn(4, 2, 3), torch.tensor([True, False, True, False]))
    with pytest.raises(ValueError, match=r"^labels"):
        InfoNCE()(randn(4, 3), randn(4, 3, seed=1), labels=torch.tensor([0, 1, 2, 3.0]))
    loss = LightGCLContrastive()
    with pytest.raises(ValueError, match=r"^index"):
        loss.node_loss(randn(4, 3), randn(4, 3, seed=1), torch.tensor([True, False]))
