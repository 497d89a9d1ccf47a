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
