"""A frozen tower (``tower.frozen``, set by ``[towers.NAME] frozen = true``) runs in eval mode and
under ``no_grad`` while the model trains; the other towers keep their graph and train mode."""

import torch
from torch import nn

from contrastkit.encoders.model import ContrastiveModel
from contrastkit.encoders.towers import Towers


def _tower(frozen: bool) -> ContrastiveModel:
    tower = ContrastiveModel(nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5)), nn.Identity())
    if frozen:
        tower.requires_grad_(False)
        tower.frozen = True
    return tower


def test_frozen_tower_is_in_eval_mode_without_a_graph():
    torch.manual_seed(0)
    model = Towers({"image": _tower(False), "text": _tower(True)}, {"image": "image", "text": "text"})
    model.train()
    assert model.towers["image"].training and not model.towers["text"].training
    x = torch.randn(16, 4, requires_grad=True)  # even an input that requires grad builds no graph
    frozen = model(x, "text")
    assert frozen.grad_fn is None and not frozen.requires_grad
    assert torch.equal(frozen, model(x, "text"))  # eval mode: no dropout, the same output twice
    trained = model(x, "image")
    assert trained.grad_fn is not None and model.towers["image"].training
