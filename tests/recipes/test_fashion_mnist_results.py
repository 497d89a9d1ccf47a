"""benchmarks/fashion_mnist_results.py on tiny IDX files and a hand-made run: the test-set and
robustness tables land in the run directory and in its report; bad input is one line, exit 2."""

import gzip
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from contrastkit.recipes import load_recipe
from contrastkit.recipes.build import build_model
from contrastkit.recipes.inference import save_run_encoder
from contrastkit.train.toml_writer import dumps_toml

ROOT = Path(__file__).resolve().parents[2]


def results_script():
    path = ROOT / "benchmarks" / "fashion_mnist_results.py"
    spec = importlib.util.spec_from_file_location("fashion_mnist_results", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def fake_fashion_mnist(folder: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 90), ("t10k", 30)):
        labels = np.arange(n) % 3
        images = rng.integers(0, 60, (n, 28, 28))
        for i, label in enumerate(labels):  # class = which third of the image is bright
            images[i, :, 9 * label:9 * label + 9] += 150
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", labels)


@pytest.fixture
def run_dir(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    fake_fashion_mnist(data)
    config, _ = load_recipe("simclr-fashion-mnist", [
        f"data.path={data}/train-images-idx3-ubyte.gz", f"data.labels_path={data}/train-labels-idx1-ubyte.gz",
        "encoder.width=4", "encoder.embedding_dim=8"])
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "config.toml").write_text(dumps_toml(config.model_dump(mode="json")))
    from contrastkit.recipes.build import load_data

    train, _ = load_data(config)
    encoder = build_model(config, train).tower().encoder
    with torch.no_grad():  # "trained": a different encoder from the untrained one
        for p in encoder.parameters():
            p.add_(0.1)
    save_run_encoder(run / "model", encoder, {"kind": "image", "channels": 1, "image_size": [28, 28]}, "t")
    return run, data


def test_tables_json_and_report(run_dir, monkeypatch, capsys):
    run, data = run_dir
    script = results_script()
    monkeypatch.setattr(script, "FRACTIONS", (0.2,))  # 90 tiny images: 1 % would be one row per class
    code = script.main([str(run), "--data", str(data), "--threads", "1", "--robustness-train", "60",
                        "--corruptions", "blur,occlusion"])
    assert code == 0
    results = json.loads((run / "test_results.json").read_text())
    assert set(results) == {"raw input", "untrained encoder", "trained encoder", "meta"}
    assert results["raw input"]["knn_accuracy"] == 1.0  # the bright third is trivially separable
    assert set(results["trained encoder"]) == {"knn_accuracy", "linear_probe_accuracy",
                                               "linear_probe_accuracy@0.2"}
    robustness = json.loads((run / "robustness.json").read_text())
    assert "knn_drop/blur@3" in robustness["trained encoder"]
    assert "knn_drop/rotation" not in robustness["raw input"]
    page = (run / "report" / "report.html").read_text()
    assert "Test set" in page and "Robustness: accuracy drop" in page and "occlusion" in page
    assert (run / "report" / "robustness.png").is_file()
    out = capsys.readouterr().out
    assert "| linear_probe_accuracy@0.2 |" in out and "| knn_drop/occlusion |" in out


def test_unknown_corruption_is_one_line_exit_2(run_dir, capsys):
    run, data = run_dir
    code = results_script().main([str(run), "--data", str(data), "--corruptions", "blur,fog"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "corruption: unknown 'fog'" in err
