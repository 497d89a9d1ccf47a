"""A short train -> eval -> embed -> search -> report run through the command line."""

import html.parser
import json

import numpy as np
import pytest
from PIL import Image

from contrastkit.cli import main
from tests.recipes.tiny import write_tiny


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.images = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])


@pytest.mark.slow
def test_train_eval_embed_search_report(tmp_path, capsys):
    recipe = write_tiny(tmp_path)
    text = recipe.read_text()
    text = text.replace(
        'metrics = ["knn"]\nbaselines = false',
        'metrics = ["knn", "linear_probe", "alignment", "uniformity", "effective_rank"]\nbaselines = true',
    )
    text = text.replace("max_steps = 30", "max_steps = 12").replace("eval_every = 0", "eval_every = 6")
    text = text.replace("report = false", 'report = true\nbest_metric = "knn_accuracy"')
    text = text.replace("max_samples = 200", "max_samples = 200\nvalidation_fraction = 0.2")
    recipe.write_text(text)
    assert main(["train", str(recipe), "--quiet", "--set", f"run.output_dir='{tmp_path / 'runs'}'"]) == 0
    out = capsys.readouterr().out
    assert "knn_accuracy" in out and "raw input" in out and "untrained encoder" in out
    (run_dir,) = (tmp_path / "runs").glob("tiny-*")
    for name in (
        "config.toml",
        "metrics.jsonl",
        "baselines.json",
        "final_metrics.json",
        "analysis.npz",
        "model/config.json",
        "model/model.safetensors",
        "checkpoints/best.json",
    ):
        assert (run_dir / name).is_file(), name
    final = json.loads((run_dir / "final_metrics.json").read_text())
    assert set(final) == {
        "knn_accuracy",
        "linear_probe_accuracy",
        "alignment",
        "uniformity",
        "effective_rank",
    }
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "eval"] == [6, 12]

    assert main(["eval", str(run_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["knn_accuracy"] == pytest.approx(final["knn_accuracy"])

    folder = tmp_path / "images"
    from contrastkit.data import load_digits

    digits = load_digits()
    for i in range(12):
        (folder / str(int(digits.labels[i]))).mkdir(parents=True, exist_ok=True)
        Image.fromarray((digits.images[i, 0].numpy() * 255).astype(np.uint8)).save(
            folder / str(int(digits.labels[i])) / f"{i}.png"
        )
    assert main(["embed", str(run_dir), str(folder), str(tmp_path / "corpus.npy"), "--quiet"]) == 0
    assert main(["embed", str(run_dir), str(folder), str(tmp_path / "corpus.parquet"), "--quiet"]) == 0
    capsys.readouterr()
    vectors = np.load(tmp_path / "corpus.npy")
    assert vectors.shape == (12, 16) and np.isfinite(vectors).all()
    names = (tmp_path / "corpus.npy.names.txt").read_text().split()
    query = names[3]
    for corpus in ("corpus.npy", "corpus.parquet"):
        assert (
            main(
                [
                    "search",
                    str(run_dir),
                    str(folder / query),
                    "--corpus",
                    str(tmp_path / corpus),
                    "-k",
                    "3",
                    "--json",
                ]
            )
            == 0
        )
        hits = json.loads(capsys.readouterr().out)
        assert (
            len(hits) == 3
            and hits[0]["name"] == query
            and hits[0]["similarity"] == pytest.approx(1, abs=1e-4)
        )
    assert main(["embed", str(run_dir), str(folder), "--quiet"]) == 0  # default: RUN_DIR/embeddings.npy
    capsys.readouterr()
    assert main(["search", str(run_dir), query, "--json"]) == 0  # a row name as the query
    assert json.loads(capsys.readouterr().out)[0]["name"] == query

    assert main(["report", str(run_dir)]) == 0
    pngs = sorted(p.name for p in (run_dir / "report").glob("*.png"))
    assert pngs == [
        "alignment_uniformity.png",
        "embedding_map.png",
        "loss_lr.png",
        "similarities.png",
        "spectrum.png",
    ]
    for png in (run_dir / "report").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(png) as image:
            image.verify()
    page = (run_dir / "report" / "report.html").read_text()
    parser = _Collector()
    parser.feed(page)
    assert page.startswith("<!DOCTYPE html>") and {"html", "head", "body", "table"} <= set(parser.tags)
    assert len(parser.images) == 5 and all(src.startswith("data:image/png;base64,") for src in parser.images)
    assert "linear_probe_accuracy" in page
