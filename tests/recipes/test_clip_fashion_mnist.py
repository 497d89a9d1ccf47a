"""The clip-fashion-mnist recipe: valid as shipped, and a tiny run on fake IDX files through the
trainer (image tower + text tower, symmetric InfoNCE with a learnable temperature)."""

import gzip
import json
import struct

import numpy as np
import pytest

from contrastkit.cli import main
from contrastkit.recipes import load_recipe, train
from contrastkit.recipes.build import build_components
from contrastkit.recipes.catalogue import recipe_text
from contrastkit.recipes.zero_shot import zero_shot_run
from contrastkit.train.config import ConfigError, parse_toml, validate_config


def test_recipe_is_valid_and_switches_to_siglip():
    config, name = load_recipe("clip-fashion-mnist")
    build_components(config)
    assert name == "clip-fashion-mnist" and config.towers["text"].frozen
    assert config.data.options["captions"]["held_out_classes"] == ["Sandal", "Bag"]
    siglip, _ = load_recipe("clip-fashion-mnist", ["loss.name=SigLIP", "loss.temperature=0.1",
                                                   'loss.inputs={a = "image", b = "text"}'])
    build_components(siglip)
    with pytest.raises(ConfigError, match="captions"):
        bad, _ = load_recipe("clip-fashion-mnist", ["data.captions.colour=\"red\""])
        from contrastkit.recipes.build import load_data

        load_data(bad)


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


@pytest.mark.slow
def test_tiny_run_through_the_trainer(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = np.arange(200) % 10
    images = rng.integers(0, 60, (200, 28, 28))
    for row, label in enumerate(labels):  # a class-dependent bar, so there is something to learn
        images[row, 4:24, 4 + label:8 + label] = 250
    for split in ("train", "t10k"):
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", images)
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", labels)
    data = parse_toml(recipe_text("clip-fashion-mnist"))
    data["run"]["output_dir"] = str(tmp_path / "runs")
    data["data"]["root"] = str(tmp_path)
    data["towers"]["image"]["encoder"].update(width=8, depth=2, embedding_dim=16)
    data["towers"]["image"]["head"]["output_dim"] = 16
    data["towers"]["text"] = {"fields": ["text"], "head": {"name": "mlp", "output_dim": 16},
                              "encoder": {"name": "small_transformer", "hidden_size": 32, "num_layers": 1,
                                          "num_heads": 2, "max_length": 16}}
    data["train"].update(batch_size=32, max_steps=4, report=False)
    data["eval"]["max_samples"] = 16
    result = train(validate_config(data), "clip", quiet=True)
    assert result.steps == 4
    assert np.isfinite(list(result.final.values())).all()
    assert "retrieval/recall@1" in result.final

    table = zero_shot_run(result.run_dir.path)
    assert {"zero_shot/accuracy", "zero_shot/seen_accuracy", "zero_shot/unseen_accuracy",
            "zero_shot/text_to_image_recall@10", "zero_shot/image_to_text_ndcg@10"} <= set(table)
    assert all(0.0 <= v <= 1.0 for v in table.values())
    assert (result.run_dir.path / "zero_shot.json").is_file()
    assert (result.run_dir.path / "report" / "zero_shot_confusion.png").is_file()
    assert (result.run_dir.path / "report" / "top_text_to_image.png").is_file()
    assert main(["zero-shot", str(result.run_dir.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == table
    assert main(["zero-shot", str(tmp_path)]) == 2  # not a run directory: one line, exit 2


def test_resolved_config_with_quoted_keys_round_trips():
    # Class names such as "T-shirt/top" or "Ankle boot" are table keys that TOML must quote.
    from contrastkit.train.toml_writer import dumps_toml

    config, _ = load_recipe("clip-fashion-mnist")
    dumped = config.model_dump(mode="json")
    assert validate_config(parse_toml(dumps_toml(dumped))) == config
    nested = {"a b": {"T-shirt/top": [1], "x.y": {"z w": 2}}}
    assert parse_toml(dumps_toml(nested)) == nested
