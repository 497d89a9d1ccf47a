"""Small encoders: shapes, validation, and the folder save/load round trip for each dtype."""

import pytest
import torch

from contrastkit.encoders import MLP, ContrastiveModel, ProjectionHead, SmallCNN, load_module, save_module


def test_shapes():
    cnn = SmallCNN(in_channels=3, width=8, depth=3, embedding_dim=20, image_size=(16, 16))
    assert cnn(torch.rand(5, 3, 16, 16)).shape == (5, 20)
    model = ContrastiveModel(cnn, ProjectionHead(20, 12, 6))
    assert model(torch.rand(5, 3, 16, 16)).shape == (5, 6) and model.embed(
        torch.rand(5, 3, 16, 16)
    ).shape == (5, 20)
    assert MLP(12, [7], 3)(torch.rand(4, 3, 4)).shape == (4, 3)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="width"):
        SmallCNN(width=0)
    with pytest.raises(ValueError, match="hidden_dims"):
        MLP(4, [0], 2)
    with pytest.raises(ValueError, match="images"):
        SmallCNN(in_channels=1)(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match="x: expected 4 features"):
        MLP(4, [], 2)(torch.rand(2, 5))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize(
    "make",
    [lambda: SmallCNN(width=4, embedding_dim=6), lambda: MLP(64, [8], 5), lambda: ProjectionHead(6, 5, 3)],
)
def test_save_load_round_trip(tmp_path, make, dtype):
    module = make().to(dtype)
    module.train()
    with torch.no_grad():  # move BatchNorm's running statistics away from their defaults
        for buffer in module.buffers():
            if buffer.is_floating_point():
                buffer.add_(0.25)
    save_module(tmp_path / "m", module, {"input": {"kind": "image"}})
    loaded, extra = load_module(tmp_path / "m")
    assert extra == {"input": {"kind": "image"}} and not loaded.training
    for (name, a), (_, b) in zip(module.state_dict().items(), loaded.state_dict().items()):
        assert a.dtype == b.dtype and torch.equal(a, b), name
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]


def test_load_rejects_unknown_classes(tmp_path):
    save_module(tmp_path / "m", MLP(4, [], 2))
    config = (tmp_path / "m" / "config.json").read_text().replace('"MLP"', '"os.system"')
    (tmp_path / "m" / "config.json").write_text(config)
    with pytest.raises(ValueError, match=r"unknown class 'os\.system'"):
        load_module(tmp_path / "m")
    with pytest.raises(ValueError, match=r"no config\.json"):
        load_module(tmp_path / "nothing")


def _convs(cnn):
    return [m for m in cnn.features if isinstance(m, torch.nn.Conv2d)]


@pytest.mark.parametrize("in_channels", [1, 3])
def test_cnn_channels_last_equals_the_default_layout(in_channels):
    """SmallCNN runs its convolutions channels_last; outputs and gradients equal a copy whose
    weights are put back in the default layout, up to float rounding."""
    torch.manual_seed(0)
    fast = SmallCNN(in_channels=in_channels, width=8, depth=3, embedding_dim=6, image_size=(12, 12))
    assert all(c.weight.stride(1) == 1 for c in _convs(fast))  # channels innermost
    plain = SmallCNN(in_channels=in_channels, width=8, depth=3, embedding_dim=6, image_size=(12, 12))
    plain.load_state_dict(fast.state_dict())
    plain.features.to(memory_format=torch.contiguous_format)
    assert all(c.weight.is_contiguous() and c.weight.stride(1) > 1 for c in _convs(plain))
    plain.forward = lambda x: plain.out(torch.flatten(plain.pool(plain.features(x.contiguous())), 1))
    images = torch.rand(5, in_channels, 12, 12)
    out_fast, out_plain = fast(images), plain(images)
    assert torch.allclose(out_fast, out_plain, atol=1e-5, rtol=1e-5)
    out_fast.square().sum().backward()
    out_plain.square().sum().backward()
    for a, b in zip(_convs(fast), _convs(plain)):
        assert torch.allclose(a.weight.grad, b.weight.grad, atol=1e-4, rtol=1e-4)


def test_cnn_weights_saved_contiguous_load_channels_last(tmp_path):
    """A folder written from default-layout weights (as every saved file is) loads into the
    channels_last model with the same outputs, and the loaded model keeps channels_last."""
    torch.manual_seed(1)
    module = SmallCNN(width=4, embedding_dim=6).eval()
    save_module(tmp_path / "m", module)
    loaded, _ = load_module(tmp_path / "m")
    assert all(c.weight.stride(1) == 1 for c in _convs(loaded))
    images = torch.rand(3, 1, 8, 8)
    assert torch.equal(module(images), loaded(images))
    module.features.to(memory_format=torch.contiguous_format)  # as a file from before the change
    save_module(tmp_path / "old", module)
    old, _ = load_module(tmp_path / "old")
    assert torch.equal(loaded(images), old(images))


@pytest.mark.parametrize("kind, convs_per_block", [("conv", 2), ("residual", 3)])
def test_cnn_extra_layers_are_built_saved_and_loaded(tmp_path, kind, convs_per_block):
    """``extra`` adds layers to every block: more convolutions (and parameters), same output shape,
    and a saved folder rebuilds the same network (its keys are in ``config_keys``)."""
    torch.manual_seed(0)
    plain = SmallCNN(width=4, depth=3, embedding_dim=6, image_size=(12, 12))
    deeper = SmallCNN(width=4, depth=3, embedding_dim=6, image_size=(12, 12), extra=1, extra_kind=kind)
    convs = [m for m in deeper.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(_convs(plain)) == 3 and len(convs) == 3 * convs_per_block
    assert sum(p.numel() for p in deeper.parameters()) > sum(p.numel() for p in plain.parameters())
    images = torch.rand(5, 1, 12, 12)
    assert deeper(images).shape == (5, 6)
    with torch.no_grad():
        for buffer in deeper.buffers():
            if buffer.is_floating_point():
                buffer.add_(0.25)
    save_module(tmp_path / "m", deeper)
    loaded, _ = load_module(tmp_path / "m")
    assert (loaded.extra, loaded.extra_kind) == (1, kind)
    deeper.eval()
    assert torch.equal(loaded(images), deeper(images))


def test_cnn_extra_defaults_keep_the_plain_network_and_old_folders(tmp_path):
    """``extra = 0`` is the network as it was (same state-dict keys), and a folder saved before the
    option existed (no ``extra`` keys in config.json) still loads."""
    import json

    cnn = SmallCNN(width=4, depth=2, embedding_dim=6)
    assert list(cnn.state_dict()) == [
        "features.0.weight", "features.1.weight", "features.1.bias", "features.1.running_mean",
        "features.1.running_var", "features.1.num_batches_tracked", "features.3.weight",
        "features.4.weight", "features.4.bias", "features.4.running_mean", "features.4.running_var",
        "features.4.num_batches_tracked", "out.weight", "out.bias"]
    save_module(tmp_path / "m", cnn)
    config_path = tmp_path / "m" / "config.json"
    config = json.loads(config_path.read_text())
    text = json.dumps(config)
    assert '"extra"' in text and '"extra_kind"' in text

    def drop(node):
        if isinstance(node, dict):
            return {k: drop(v) for k, v in node.items() if k not in ("extra", "extra_kind")}
        return node
    config_path.write_text(json.dumps(drop(config)))
    loaded, _ = load_module(tmp_path / "m")
    assert loaded.extra == 0 and torch.equal(loaded.out.weight, cnn.out.weight)


def test_cnn_extra_rejects_bad_values():
    with pytest.raises(ValueError, match="extra: expected an int >= 0"):
        SmallCNN(extra=-1)
    with pytest.raises(ValueError, match="extra_kind"):
        SmallCNN(extra=1, extra_kind="dense")
