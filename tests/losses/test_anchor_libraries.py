"""Our losses against the anchor libraries' implementations (values and input gradients).

Each library is optional: a test skips, naming the library, when tests/anchors.py cannot load it.
Inputs are float64, which every anchor here accepts, so the tolerances are float64's.
"""

import pytest
import torch
import torch.nn.functional as F

from contrastkit.losses import CLIPLoss, NTXent, SigLIP, SupCon
from tests.anchors import lightly_loss, open_clip_loss, pml_losses
from tests.helpers import assert_close, assert_same, randn


def require(module, library):
    if module is None:
        pytest.skip(f"{library} is not installed")
    return module


@pytest.mark.parametrize("n, d, temperature", [(4, 3, 0.5), (9, 6, 0.1)])
def test_ntxent_matches_pytorch_metric_learning(n, d, temperature):
    losses = require(pml_losses(), "pytorch-metric-learning")
    theirs = losses.NTXentLoss(temperature=temperature)
    labels = torch.arange(n).repeat(2)  # [0..N-1, 0..N-1]: the two views of a sample share a label
    assert_same(NTXent(temperature), lambda z1, z2: theirs(torch.cat([z1, z2]), labels),
                randn(n, d, seed=1), randn(n, d, seed=2))


@pytest.mark.parametrize("n, d, temperature", [(4, 3, 0.5), (9, 6, 0.2)])
def test_ntxent_matches_lightly(n, d, temperature):
    module = require(lightly_loss("ntx_ent_loss"), "lightly")
    theirs = module.NTXentLoss(temperature=temperature)
    assert_same(NTXent(temperature), theirs, randn(n, d, seed=3), randn(n, d, seed=4))


@pytest.mark.parametrize("views, labels", [
    (1, [0, 1, 0, 2, 1, 1, 3, 0]),   # labels 2 and 3 have no positive: PML leaves them out
    (2, [0, 1, 0, 2, 1, 1, 3, 0]),
    (3, [4, 4, 7, 7, 7]),
])
def test_supcon_matches_pytorch_metric_learning(views, labels):
    losses = require(pml_losses(), "pytorch-metric-learning")
    theirs = losses.SupConLoss(temperature=0.1)
    labels = torch.tensor(labels)
    n, d = labels.shape[0], 5
    features = randn(n, d, seed=5) if views == 1 else randn(n, views, d, seed=5)

    def pml(features):
        # PML takes (N*V, d) with labels repeated per view; flatten view-major like SupCon.
        flat = features if features.dim() == 2 else features.transpose(0, 1).reshape(-1, d)
        return theirs(flat, labels.repeat(views))

    ours = SupCon(temperature=0.1, no_positive="ignore")
    assert_same(lambda f: ours(f, labels), pml, features)


@pytest.mark.parametrize("n, d, temperature", [(3, 4, 0.07), (8, 5, 0.3)])
def test_clip_matches_open_clip(n, d, temperature):
    module = require(open_clip_loss(), "open_clip")
    theirs = module.ClipLoss()
    ours = CLIPLoss(temperature=temperature).double()
    log_tau = ours.temperature.log_temperature
    a = randn(n, d, seed=6, requires_grad=True)
    b = randn(n, d, seed=7, requires_grad=True)
    value = ours(a, b)
    g = torch.autograd.grad(value, (a, b, log_tau))

    # open_clip takes normalised features and logit_scale = 1 / temperature.
    logit_scale = torch.exp(-log_tau.detach()).requires_grad_(True)
    a2, b2 = (x.detach().clone().requires_grad_(True) for x in (a, b))
    ref_value = theirs(F.normalize(a2, dim=-1), F.normalize(b2, dim=-1), logit_scale)
    ref_g = torch.autograd.grad(ref_value, (a2, b2, logit_scale))
    assert_close(value, ref_value)
    assert_close(g[0], ref_g[0])
    assert_close(g[1], ref_g[1])
    # d/d(log tau) = d/d(logit_scale) * d(logit_scale)/d(log tau) = -logit_scale * d/d(logit_scale)
    assert_close(g[2], -logit_scale.detach() * ref_g[2])


@pytest.mark.parametrize("n, d, temperature, bias", [(1, 3, 0.1, -10.0), (6, 4, 0.1, -10.0),
                                                     (10, 8, 0.3, -2.5)])
def test_siglip_matches_open_clip(n, d, temperature, bias):
    module = require(open_clip_loss(), "open_clip")
    theirs = module.SigLipLoss()  # forward(image_features, text_features, logit_scale, logit_bias)
    ours = SigLIP(temperature=temperature, bias=bias).double()
    log_tau, ours_bias = ours.temperature.log_temperature, ours.bias
    a = randn(n, d, seed=8, requires_grad=True)
    b = randn(n, d, seed=9, requires_grad=True)
    value = ours(a, b)
    g = torch.autograd.grad(value, (a, b, log_tau, ours_bias))

    logit_scale = torch.exp(-log_tau.detach()).requires_grad_(True)
    logit_bias = ours_bias.detach().clone().requires_grad_(True)
    a2, b2 = (x.detach().clone().requires_grad_(True) for x in (a, b))
    ref_value = theirs(F.normalize(a2, dim=-1), F.normalize(b2, dim=-1), logit_scale, logit_bias)
    ref_g = torch.autograd.grad(ref_value, (a2, b2, logit_scale, logit_bias))
    assert_close(value, ref_value)
    assert_close(g[0], ref_g[0])
    assert_close(g[1], ref_g[1])
    assert_close(g[2], -logit_scale.detach() * ref_g[2])
    assert_close(g[3], ref_g[3])
