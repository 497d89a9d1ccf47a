import pytest
import torch
from torch import nn

from contrastkit.encoders import MLP, scarf_encoder, scarf_head
from tests.helpers import assert_close, randn


def test_forward_equals_explicit_layer_composition():
    mlp = MLP(5, 7, 3, num_layers=3).double()
    x = randn(4, 5, seed=2)
    lin = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
    expected = torch.relu(x @ lin[0].weight.T + lin[0].bias)
    expected = torch.relu(expected @ lin[1].weight.T + lin[1].bias)
    expected = expected @ lin[2].weight.T + lin[2].bias
    assert_close(mlp(x), expected)


def test_scarf_shapes():
    f, g = scarf_encoder(10), scarf_head()
    lin_f = [m for m in f.modules() if isinstance(m, nn.Linear)]
    lin_g = [m for m in g.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in lin_f] == [256] * 4 and lin_f[0].in_features == 10
    assert [m.out_features for m in lin_g] == [256] * 2
    assert isinstance(list(f.modules())[-1], nn.ReLU)  # encoder output is a hidden ReLU layer
    assert isinstance(list(g.modules())[-1], nn.Linear)
    assert g(f(torch.randn(3, 10))).shape == (3, 256)


def test_norm_dropout_and_single_layer():
    mlp = MLP(4, 8, 2, num_layers=2, norm="layer", dropout=0.5, activation="gelu")
    kinds = [type(m).__name__ for m in mlp.layers]
    assert kinds == ["Linear", "LayerNorm", "GELU", "Dropout", "Linear"]
    single = MLP(4, 99, 2, num_layers=1)
    assert [type(m).__name__ for m in single.layers] == ["Linear"]


@pytest.mark.parametrize(("kwargs", "name"), [
    (dict(in_dim=0), "in_dim"), (dict(num_layers=0), "num_layers"), (dict(activation="swish"), "activation"),
    (dict(norm="group"), "norm"), (dict(dropout=1.0), "dropout"), (dict(hidden_dim=2.5), "hidden_dim"),
])
def test_bad_construction(kwargs, name):
    args = dict(in_dim=4, hidden_dim=8, out_dim=2) | kwargs
    with pytest.raises(ValueError, match=name):
        MLP(**args)


def test_bad_input_shape():
    with pytest.raises(ValueError, match="x"):
        MLP(4, 8, 2)(torch.zeros(3, 5))
