"""The clip-fashion-mnist recipe: valid as shipped, and a tiny run on fake IDX files through the
trainer (image tower + text tower, symmetric InfoNCE with a learnable temperature)."""

import gzip
import json
import re
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

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
def test_tiny_run_through_the_trainer(tmp_path, capsys, monkeypatch):
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
    data["train"].update(batch_size=32, max_steps=4, report=False, eval_every=2, log_every=1)
    data["eval"]["max_samples"] = 16
    # Through `contrastkit train`: a run with a zero_shot task prints the test table once (inside
    # the final table) and writes the figures from the selected checkpoint without recomputing it.
    from contrastkit.evaluate import ZeroShotEvaluator
    from contrastkit.train.toml_writer import dumps_toml

    (tmp_path / "clip.toml").write_text(dumps_toml(data))
    tables, metrics = [], ZeroShotEvaluator.metrics  # sizes of the image sets each table was computed on
    monkeypatch.setattr(ZeroShotEvaluator, "metrics",
                        lambda self, *e: tables.append(len(e[0])) or metrics(self, *e))
    capsys.readouterr()
    assert main(["train", str(tmp_path / "clip.toml"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    run_path = Path(re.search(r"run directory: (\S+)", printed).group(1))
    final = json.loads((run_path / "final_metrics.json").read_text())
    assert printed.count("zero_shot/unseen_accuracy ") == 1 and "4 steps" in printed
    assert json.loads((run_path / "zero_shot.json").read_text()) == {
        k: v for k, v in final.items() if k.startswith("zero_shot/")}
    assert (run_path / "report" / "zero_shot_confusion.png").is_file()
    result = SimpleNamespace(steps=4, final=final, run_dir=SimpleNamespace(path=run_path),
                             selection=json.loads((run_path / "selection.json").read_text()))
    last_only = result.selection["selected_step"] == result.selection["last_step"]
    assert tables.count(200) == (1 if last_only else 2)  # the test table: once per checkpoint shown
    monkeypatch.undo()
    assert np.isfinite(list(result.final.values())).all()
    assert "retrieval/recall@1" in result.final
    # [[eval.tasks]] zero_shot: selection on validation (seen classes only), the test table on the
    # official test file with every class (200 images here), read at the end.
    history = [json.loads(line) for line in (result.run_dir.path / "metrics.jsonl").read_text().splitlines()]
    validation = [row for row in history if "zero_shot/seen_accuracy" in row]
    assert validation and all("zero_shot/unseen_accuracy" not in row for row in validation)
    assert result.selection["metric"] == "zero_shot/seen_accuracy"
    assert result.selection["selected_step"] in (2, 4)
    assert {"zero_shot/seen_accuracy", "zero_shot/unseen_accuracy", "zero_shot/accuracy"} <= set(result.final)

    table = zero_shot_run(result.run_dir.path)  # the selected checkpoint: the same figures as the final table
    for key in ("zero_shot/accuracy", "zero_shot/seen_accuracy", "zero_shot/unseen_accuracy"):
        assert table[key] == pytest.approx(result.final[key], abs=1e-6)
    assert {"zero_shot/accuracy", "zero_shot/seen_accuracy", "zero_shot/unseen_accuracy",
            "zero_shot/text_to_image_recall@10", "zero_shot/image_to_text_ndcg@10"} <= set(table)
    assert all(0.0 <= v <= 1.0 for v in table.values())
    assert (result.run_dir.path / "zero_shot.json").is_file()
    assert (result.run_dir.path / "report" / "zero_shot_confusion.png").is_file()
    assert (result.run_dir.path / "report" / "top_text_to_image.png").is_file()
    # The learned temperature per step, and the report with it and the two zero-shot figures.
    steps = [row for row in history if row["kind"] == "train"]
    assert [row["step"] for row in steps] == [1, 2, 3, 4]
    taus = [row["temperature"] for row in steps]
    assert all(0 < t < 1 for t in taus) and len(set(taus)) > 1  # learnable: it moves
    from contrastkit.report import write_report

    page = write_report(result.run_dir.path).read_text()
    for title in ("Learned temperature", "Zero-shot confusion matrix", "Top text-to-image hits"):
        assert f"<h2>{title}</h2>" in page
    assert main(["zero-shot", str(result.run_dir.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == table
    assert main(["zero-shot", str(tmp_path)]) == 2  # not a run directory: one line, exit 2
    _search_both_ways(result.run_dir.path, tmp_path, images, capsys)


def _search_both_ways(run, tmp_path, images, capsys):
    """Text query over an image folder (image tower, on the fly) and image query over a caption
    table (text tower): file names / texts and scores, best first."""
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for row in range(6):
        Image.fromarray(images[row].astype(np.uint8)).save(folder / f"item{row}.png")
    Image.fromarray(np.full((40, 30, 3), 200, np.uint8)).save(folder / "item6.jpg")  # RGB, another size
    (tmp_path / "captions.csv").write_text("image,caption\nx.png,a red dress\ny.png,a sneaker\nz.png,a bag\n")
    capsys.readouterr()
    assert main(["search", str(run), "a red dress", "--corpus", str(folder), "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [h["name"] for h in hits] != [] and len(hits) == 3
    assert {h["name"] for h in hits} <= {f"item{row}.png" for row in range(6)} | {"item6.jpg"}
    scores = [h["similarity"] for h in hits]
    assert scores == sorted(scores, reverse=True) and all(-1.0 <= s <= 1.0 for s in scores)
    assert main(["search", str(run), str(folder / "item0.png"), "--corpus", str(tmp_path / "captions.csv"),
                 "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    parsed = [re.fullmatch(r"\s*(\d+)\s+(-?\d\.\d{4})  (.+)  \(row (\d)\)", line) for line in lines]
    assert len(lines) == 3 and {m.group(3) for m in parsed} == {"a red dress", "a sneaker", "a bag"}
    # The same ranking as embedding the folder with the image tower and the query with the text tower.
    import torch

    from contrastkit.recipes.live_corpus import embed_live_corpus, search_any

    vectors, names, tower = embed_live_corpus(run, folder, torch.device("cpu"))
    assert tower == "image" and len(names) == 7 and vectors.shape == (7, 16)
    rows = search_any(run, "a red dress", folder, 3, torch.device("cpu"))
    assert [name for _, _, name in rows] == [h["name"] for h in hits]
    # bad input: one line, exit 2
    assert main(["search", str(run), "a red dress", "--corpus", str(tmp_path / "nope")]) == 2
    (tmp_path / "nocol.csv").write_text("image,label\nx.png,3\n")
    assert main(["search", str(run), str(folder / "item0.png"), "--corpus", str(tmp_path / "nocol.csv")]) == 2
    assert main(["search", str(run), "a dress", "--corpus", str(folder), "--corpus-tower", "sound"]) == 2
    (folder / "broken.png").write_text("not an image")
    assert main(["search", str(run), "a dress", "--corpus", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "cannot read the image" in err and "broken.png" in err
    assert "no column named one of ['text', 'caption']" in err and "--tower sound" in err


def test_resolved_config_with_quoted_keys_round_trips():
    # Class names such as "T-shirt/top" or "Ankle boot" are table keys that TOML must quote.
    from contrastkit.train.toml_writer import dumps_toml

    config, _ = load_recipe("clip-fashion-mnist")
    dumped = config.model_dump(mode="json")
    assert validate_config(parse_toml(dumps_toml(dumped))) == config
    nested = {"a b": {"T-shirt/top": [1], "x.y": {"z w": 2}}}
    assert parse_toml(dumps_toml(nested)) == nested


def test_mcse_configuration_of_the_recipe_builds():
    """MCSE (Zhang et al., 2022, arXiv:2204.10931): unsupervised SimCSE on the captions (two dropout
    views of the text) plus the caption-image objective with weight lambda, as docs/image_text.md
    writes it."""
    data = parse_toml(recipe_text("clip-fashion-mnist"))
    del data["loss"]
    data["views"] = {"name": "identity", "num_views": 2, "fields": ["text"]}
    data["towers"]["text"]["frozen"] = False
    data["objectives"] = [
        {"name": "InfoNCE", "temperature": 0.05, "inputs": {"query": "text:0", "key": "text:1"}},
        {"name": "CLIPLoss", "weight": 0.1, "temperature": 0.07,
         "inputs": {"a": "image", "b": "text:0", "ids": "group"}},
    ]
    parts = build_components(validate_config(data))
    assert len(parts.objectives) == 2


@pytest.mark.slow
def test_user_image_caption_table_trains_with_the_recipe(tmp_path):
    from PIL import Image

    (tmp_path / "img").mkdir()
    lines = ["image,caption"]
    colours = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "white": (255, 255, 255)}
    for i, colour in enumerate(list(colours) * 4):
        rgb = colours[colour]
        Image.fromarray(np.full((20 + i, 30, 3), rgb, dtype=np.uint8)).save(tmp_path / "img" / f"{i}.png")
        lines += [f"img/{i}.png,a {colour} square", f"img/{i}.png,something {colour}"]  # two captions each
    (tmp_path / "pairs.csv").write_text("\n".join(lines) + "\n")
    data = parse_toml(recipe_text("clip-fashion-mnist"))
    data["run"]["output_dir"] = str(tmp_path / "runs")
    data["data"] = {"name": "image_captions", "path": str(tmp_path / "pairs.csv"), "image_size": [12, 12],
                    "channels": 3, "test_fraction": 0.25}
    data["towers"]["image"]["encoder"] = {"name": "small_cnn", "width": 8, "depth": 2, "embedding_dim": 16}
    data["towers"]["image"]["head"]["output_dim"] = 16
    data["towers"]["text"] = {"fields": ["text"], "head": {"name": "mlp", "output_dim": 16},
                              "encoder": {"name": "small_transformer", "hidden_size": 32, "num_layers": 1,
                                          "num_heads": 2, "max_length": 8}}
    data["train"].update(batch_size=8, max_steps=3, report=False)
    with pytest.raises(ConfigError, match="zero_shot"):  # the zero-shot task needs Fashion-MNIST captions
        train(validate_config({**data, "data": {**data["data"], "validation_fraction": 0.2}}), "u",
              quiet=True)
    del data["train"]["best_metric"], data["eval"]["tasks"]  # as docs/image_text.md says for user data
    result = train(validate_config(data), "user", quiet=True)
    assert result.steps == 3 and np.isfinite(list(result.final.values())).all()
    bad = dict(data, data={**data["data"], "path": str(tmp_path / "bad.csv")})
    (tmp_path / "bad.csv").write_text("image,caption\nimg/0.png,a red square\nimg/nope.png,a cat\n")
    with pytest.raises(ValueError, match=r"row 1 of bad.csv: image file .*nope.png does not exist"):
        train(validate_config(bad), "bad", quiet=True)


@pytest.mark.parametrize("value", ["0", "-0.1", "150"])
def test_temperature_outside_0_100_is_one_line_before_training(value, capsys):
    assert main(["train", "clip-fashion-mnist", "--set", f"loss.temperature={value}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    expected = "a number in (0, 100]" if value == "150" else "a finite value > 0"
    assert len(err) == 1 and f"loss.temperature = {value}: expected {expected}" in err[0]


def test_fixed_temperature_is_not_logged_and_several_are_named():
    from contrastkit.losses import CLIPLoss, InfoNCE
    from contrastkit.train.trainer import learned_temperatures

    assert learned_temperatures(CLIPLoss(0.07)) == {"temperature": pytest.approx(0.07)}
    assert learned_temperatures(CLIPLoss(0.07, learnable_temperature=False)) == {}
    both = torch.nn.ModuleList([CLIPLoss(0.07), CLIPLoss(0.5)])
    assert learned_temperatures(both) == {"temperature/0.temperature": pytest.approx(0.07),
                                          "temperature/1.temperature": pytest.approx(0.5)}
    assert learned_temperatures(InfoNCE(0.1)) == {}


@pytest.mark.slow
def test_cached_frozen_text_tower_trains_like_the_uncached_one(tmp_path, monkeypatch):
    """The caption cache of a frozen text tower changes no number of a run: the same losses, learned
    temperatures and final metrics as a run that sends every caption through the tower again."""
    from PIL import Image

    from contrastkit.encoders.text_cache import EmbeddingCache

    (tmp_path / "img").mkdir()
    lines = ["image,caption"]
    for i in range(24):
        Image.fromarray(np.full((12, 12, 3), 10 * i, dtype=np.uint8)).save(tmp_path / "img" / f"{i}.png")
        lines.append(f"img/{i}.png,a {['dark', 'grey', 'light'][i % 3]} square")  # 3 distinct captions
    (tmp_path / "pairs.csv").write_text("\n".join(lines) + "\n")
    data = parse_toml(recipe_text("clip-fashion-mnist"))
    data["run"]["output_dir"] = str(tmp_path / "runs")
    data["data"] = {"name": "image_captions", "path": str(tmp_path / "pairs.csv"), "image_size": [8, 8],
                    "channels": 3, "test_fraction": 0.25}
    data["towers"]["image"]["encoder"] = {"name": "small_cnn", "width": 8, "depth": 2, "embedding_dim": 16}
    data["towers"]["image"]["head"]["output_dim"] = 32
    data["towers"]["text"] = {"fields": ["text"], "frozen": True,
                              "encoder": {"name": "small_transformer", "hidden_size": 32, "num_layers": 1,
                                          "num_heads": 2, "max_length": 8}}
    data["train"].update(batch_size=8, max_steps=4, log_every=1, report=False)
    del data["train"]["best_metric"], data["eval"]["tasks"]
    calls = []
    original = EmbeddingCache.__call__
    monkeypatch.setattr(EmbeddingCache, "__call__", lambda self, encode, texts: original(
        self, lambda t: calls.append(len(t)) or encode(t), texts))
    cached = train(validate_config(data), "cached", quiet=True)
    assert calls and sum(calls) <= 3 + 6  # each distinct caption once (the rest: evaluation's new inputs)
    monkeypatch.setattr(EmbeddingCache, "__call__", lambda self, encode, texts: encode(texts))
    plain = train(validate_config(data), "plain", quiet=True)

    def rows(result):
        history = (result.run_dir.path / "metrics.jsonl").read_text().splitlines()
        return [(r["loss"], r["temperature"]) for r in map(json.loads, history) if r["kind"] == "train"]

    np.testing.assert_allclose(rows(cached), rows(plain), rtol=1e-5, atol=1e-6)
    assert cached.final.keys() == plain.final.keys()
    np.testing.assert_allclose([cached.final[k] for k in plain.final], list(plain.final.values()),
                               rtol=1e-5, atol=1e-5)
