"""An image tower and a text tower trained together with two weighted objectives (MCSE-like)."""

import json

import numpy as np
import pytest
import torch

from contrastkit.cli import main
from contrastkit.recipes import build_model, load_recipe, train
from contrastkit.recipes.splits import load_splits
from contrastkit.train.checkpoint import load_checkpoint

TOML = """
[run]
seed = 0
threads = 1
output_dir = "{out}"

[data]
path = "{path}"
image_size = [8, 8]
channels = 3

[data.fields]
image = "file"
text = "caption"

[views]
name = "identity"
fields = ["text"]

[towers.image]
fields = ["image"]
encoder = {{ name = "small_cnn", width = 8, depth = 2, embedding_dim = 16 }}

[towers.text]
fields = ["text"]
encoder = {{ name = "small_transformer", hidden_size = 32, num_layers = 1, num_heads = 2, max_length = 8 }}
head = {{ name = "mlp", output_dim = 16 }}
lr = 0.0005

[[objectives]]
name = "InfoNCE"
temperature = 0.1
inputs = {{ query = "text:0", key = "text:1" }}

[[objectives]]
name = "InfoNCE"
weight = 0.5
symmetric = true
inputs = {{ query = "image", key = "text:0" }}

[train]
batch_size = 8
max_steps = 2
report = false

[eval]
baselines = false
"""

COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "white": (255, 255, 255)}


def write_image_text(folder, n=32):
    from PIL import Image

    (folder / "img").mkdir()
    rows = []
    for i in range(n):
        name = list(COLOURS)[i % 4]
        Image.fromarray(np.full((8, 8, 3), COLOURS[name], dtype=np.uint8)).save(folder / "img" / f"{i}.png")
        rows.append({"file": f"img/{i}.png", "caption": f"a {name} square number {i}"})
    path = folder / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow
def test_image_and_text_towers_train_with_two_objectives_and_search_across(tmp_path, capsys):
    (tmp_path / "r.toml").write_text(TOML.format(out=tmp_path / "runs", path=write_image_text(tmp_path)))
    config, name = load_recipe(str(tmp_path / "r.toml"), ["towers.image.frozen=true"])
    result = train(config, name, quiet=True)
    assert result.steps == 2
    # held-out retrieval: each caption finds its image among the held-out images
    assert "retrieval/recall@1" in result.final and all(np.isfinite(v) for v in result.final.values())
    run = result.run_dir.path
    assert (run / "towers" / "text" / "head" / "config.json").is_file()
    assert (run / "towers" / "image").is_dir()
    # the frozen image tower is the initial one (same seed), the text tower moved
    fresh = build_model(config, load_splits(config).train)
    tensors, _ = load_checkpoint(run / "checkpoints")
    image = {k: v for k, v in tensors.items() if k.startswith("model.model.towers.image.")}
    initial = fresh.state_dict()
    assert image and all(torch.equal(v, initial[k[len("model.model."):]]) for k, v in image.items())
    text = [k for k in tensors if k.startswith("model.model.towers.text.") and "weight" in k]
    assert any(not torch.equal(tensors[k], initial[k[len("model.model."):]]) for k in text)
    corpus = tmp_path / "images.npy"
    assert main(["embed", str(run), str(tmp_path / "img"), str(corpus), "--tower", "image", "--quiet"]) == 0
    capsys.readouterr()
    query = ["search", str(run), "a red square", "--corpus", str(corpus)]
    assert main([*query, "--tower", "text", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 5 and all(hit["name"].endswith(".png") for hit in hits)
    assert main([*query, "--tower", "sound"]) == 2
    assert "--tower sound: not a tower of this run" in capsys.readouterr().err
    assert main(["eval", str(run), "--json"]) == 0  # each field through its own tower again
    assert json.loads(capsys.readouterr().out) == pytest.approx(result.final)
