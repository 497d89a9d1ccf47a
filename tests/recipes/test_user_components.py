"""Components named by import path (package.module:callable) in any registry entry."""

import pytest

from contrastkit.recipes import load_recipe, train
from contrastkit.train.config import ConfigError
from tests.recipes.tiny import write_tiny

USER_MODULE = '''
import torch
from torch import nn

from contrastkit.losses import NTXent


class TinyEncoder(nn.Module):
    """A user's encoder: flatten + one linear layer."""

    def __init__(self, input_dim, hidden_dims=(), output_dim=8):
        super().__init__()
        self.layer = nn.Linear(input_dim, output_dim)
        self.embedding_dim = output_dim

    def forward(self, x):
        return self.layer(x.flatten(1))


class HalfNTXent(NTXent):
    """A user's loss: half of NT-Xent."""

    def forward(self, z1, z2):
        return 0.5 * super().forward(z1, z2)


def flip_views(num_views=2):
    return lambda x, generator=None: [x, x.flip(-1)][:num_views]
'''


def test_encoder_loss_and_views_by_import_path(tmp_path, monkeypatch):
    (tmp_path / "user_parts.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    overrides = ['encoder.name="user_parts:TinyEncoder"', 'loss.name="user_parts:HalfNTXent"',
                 'views.name="user_parts:flip_views"', "train.max_steps=2", f"run.output_dir='{tmp_path}'"]
    config, name = load_recipe(str(write_tiny(tmp_path)), overrides)
    result = train(config, name, quiet=True)
    assert result.steps == 2 and "knn_accuracy" in result.final


@pytest.mark.parametrize(("override", "message"), [
    ('encoder.name="no_such_package.models:Net"',
     r"encoder\.name = 'no_such_package\.models:Net': cannot be imported \(ModuleNotFoundError"),
    ('loss.name="torch.nn:Nope"', r"loss\.name = 'torch\.nn:Nope': cannot be imported \(AttributeError"),
    ('loss.name="math:pi"', r"loss\.name = 'math:pi': not callable"),
])
def test_failed_import_is_one_line_naming_the_key(tmp_path, override, message):
    config, name = load_recipe(str(write_tiny(tmp_path)), [override, f"run.output_dir='{tmp_path}'"])
    with pytest.raises(ConfigError, match=message) as error:
        train(config, name, quiet=True)
    assert "\n" not in str(error.value)
