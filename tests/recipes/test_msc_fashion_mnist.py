"""msc-fashion-mnist: mean-shifted fine-tuning from one pretrained run, its study script, bad input."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from contrastkit.encoders.cnn import SmallCNN
from contrastkit.losses import MeanShifted
from contrastkit.losses.mean_shifted import mean_shifted_center
from contrastkit.recipes.anomaly import (
    embed,
    knn_auroc,
    mean_shifted_finetune,
    msc_aurocs,
    one_class_split,
    pooled,
)
from contrastkit.recipes.inference import save_run_encoder
from contrastkit.recipes.runner import read_run_config

FASHION = Path("/usr/share/datasets/fashion-mnist")
HAS_FASHION = (FASHION / "train-images-idx3-ubyte.gz").is_file()
needs_fashion = pytest.mark.skipif(not HAS_FASHION, reason="Debian's dataset-fashion-mnist is not installed")

RUN_TOML = f"""
[run]
seed = 0
threads = 1

[data]
name = "idx"
path = "{FASHION}/train-images-idx3-ubyte.gz"
labels_path = "{FASHION}/train-labels-idx1-ubyte.gz"
max_samples = 600
test_fraction = 0.0833333333
validation_fraction = 0.0833333333

[views]
name = "image"
crop_scale = [0.5, 1.0]

[encoder]
name = "small_cnn"
width = 4
depth = 2
embedding_dim = 8
image_size = [28, 28]

[loss]
name = "NTXent"
"""


def _run_dir(folder: Path, seed: int) -> Path:
    """A finished run as `contrastkit train` leaves it (config.toml + model/), without training."""
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(RUN_TOML)
    torch.manual_seed(seed)
    encoder = SmallCNN(1, width=4, depth=2, embedding_dim=8, image_size=(28, 28))
    save_run_encoder(folder / "model", encoder, {"kind": "image", "channels": 1, "image_size": [28, 28]},
                     "test")
    return folder


def _script():
    path = Path(__file__).parents[2] / "scripts" / "study_anomaly.py"
    spec = importlib.util.spec_from_file_location("study_anomaly", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _views(x, generator=None):
    return [x + 0.05 * torch.randn(x.shape, generator=generator) for _ in range(2)]


def test_center_is_computed_once_from_the_pretrained_features_and_held_fixed(monkeypatch):
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.BatchNorm1d(8)).eval()
    encoder[2].running_mean.fill_(0.3)  # a pretrained network's statistics
    images = torch.rand(40, 1, 4, 4)
    expected = mean_shifted_center(embed(encoder, images))
    seen = []
    forward = MeanShifted.forward

    def recording(self, z1, z2, center):
        seen.append(center.clone())
        return forward(self, z1, z2, center)

    monkeypatch.setattr(MeanShifted, "forward", recording)
    tuned = mean_shifted_finetune(encoder, images, _views, steps=6, batch_size=16, lr=1e-2)
    assert len(seen) == 6 and all(torch.equal(c, expected) for c in seen)
    # eval mode throughout, as the official code: BatchNorm's running statistics are not updated
    assert torch.equal(tuned[2].running_mean, encoder[2].running_mean)
    assert not torch.allclose(mean_shifted_center(embed(tuned, images)), expected)  # the features moved


def test_callback_sees_every_step_and_sgd_is_accepted():
    encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8))
    steps = []
    mean_shifted_finetune(encoder, torch.rand(20, 1, 4, 4), _views, steps=3, batch_size=8, optimizer="sgd",
                          lr=1e-3, weight_decay=5e-5, callback=lambda step, model: steps.append(step))
    assert steps == [1, 2, 3]
    with pytest.raises(ValueError, match="optimizer"):
        mean_shifted_finetune(encoder, torch.rand(20, 1, 4, 4), _views, steps=1, optimizer="lbfgs")


def test_pooled_features_share_the_encoders_weights():
    encoder = SmallCNN(1, width=4, depth=2, embedding_dim=8, image_size=(28, 28)).eval()
    features = pooled(encoder)
    assert features(torch.rand(3, 1, 28, 28)).shape == (3, 8)  # 4 * 2 channels, before the linear map
    assert features[0] is encoder.features
    with pytest.raises(ValueError, match="features"):
        pooled(torch.nn.Linear(4, 4))


def test_msc_aurocs_scores_the_requested_steps():
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8))
    normal = torch.rand(30, 1, 4, 4)
    inputs = torch.cat([torch.rand(10, 1, 4, 4), -torch.rand(10, 1, 4, 4)])
    anomaly = np.array([0] * 10 + [1] * 10)
    result = msc_aurocs(encoder, _views, normal, inputs, anomaly, score_steps=[1, 3], steps=3, batch_size=8)
    assert list(result) == ["raw pixels", "pretrained", "MSC step 1", "MSC step 3", "after MSC"]
    assert result["MSC step 3"] == result["after MSC"]
    assert result["pretrained"] == knn_auroc(embed(encoder, normal), embed(encoder, inputs), anomaly, 2)


@needs_fashion
def test_validation_split_is_the_runs_own_and_never_the_test_set(tmp_path):
    config = read_run_config(_run_dir(tmp_path / "run", 0))
    normal, inputs, anomaly = one_class_split(config, 3, "validation")
    assert 40 <= len(inputs) <= 60 and 0 < len(normal) < 600 and 0 < anomaly.sum() < len(inputs)
    normal, inputs, anomaly = one_class_split(config, 3, "test")
    assert len(normal) == 6000 and len(inputs) == 10000 and anomaly.sum() == 9000


@needs_fashion
def test_study_starts_from_the_pretrained_run(tmp_path):
    script = _script()
    results = []
    for seed in (0, 1):
        run = _run_dir(tmp_path / f"run{seed}", seed)
        out = tmp_path / f"out{seed}"
        assert script.main(["msc", "--pretrained", str(run), "--part", "validation", "--classes", "3",
                            "--msc-steps", "2", "--features", "encoder", "--output", str(out)]) == 0
        results.append(json.loads((out / "msc-validation.json").read_text())["3"])
        config = read_run_config(run)
        normal, inputs, anomaly = one_class_split(config, 3, "validation")
        from contrastkit.recipes.inference import load_run_encoder

        encoder, _ = load_run_encoder(run, torch.device("cpu"))
        assert results[-1]["pretrained"] == pytest.approx(
            knn_auroc(embed(encoder, normal), embed(encoder, inputs), anomaly, 2))
    assert results[0]["raw pixels"] == results[1]["raw pixels"]
    assert results[0]["pretrained"] != results[1]["pretrained"]  # a different run, a different encoder


@pytest.mark.parametrize("argv, words", [
    (["--pretrained", "RUN", "--classes", "12"], "normal_class"),
    (["--pretrained", "RUN", "--classes", "-1"], "normal_class"),
    (["--pretrained", "MISSING", "--classes", "3"], "no run directory"),
    (["--pretrained", "EMPTY", "--classes", "3"], "config.toml"),
])
def test_bad_input_is_one_line_and_exit_2(argv, words, tmp_path, capsys):
    run = _run_dir(tmp_path / "run", 0)
    (tmp_path / "empty").mkdir()
    names = {"RUN": str(run), "MISSING": str(tmp_path / "missing"), "EMPTY": str(tmp_path / "empty")}
    argv = [names.get(a, a) for a in argv]
    code = _script().main(["msc", *argv, "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and words in err
    assert not (tmp_path / "out").exists()
