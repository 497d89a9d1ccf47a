"""The run report: PNG plots plus one self-contained HTML page (images embedded as base64)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from .._atomic import atomic_write_text
from . import plots
from .robustness import robustness_html, robustness_plot
from .table import SELECTION, html_table, trained_columns
from .two_tower import temperature_curve

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;"
    "text-align:right}td:first-child,th:first-child,td:last-child{text-align:left}"
    "img{max-width:100%;border:1px solid #eee;margin:.5em 0}pre{background:#f6f6f6;padding:1em;"
    "overflow:auto;font-size:12px}"
)


def _read_rows(path: Path) -> list[dict]:
    rows = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def make_plots(run_dir: Path, out: Path) -> dict[str, Path]:
    rows = _read_rows(run_dir / "metrics.jsonl")
    baselines = _read_json(run_dir / "baselines.json")
    made = {
        "Loss and learning rate": plots.loss_and_lr(rows, out / "loss_lr.png"),
        "Alignment and uniformity": plots.alignment_uniformity(
            rows, baselines, out / "alignment_uniformity.png"
        ),
    }
    analysis = run_dir / "analysis.npz"
    if analysis.is_file():
        with np.load(analysis, allow_pickle=False) as arrays:
            data = {k: arrays[k] for k in arrays.files}
        if "view1" in data and "view2" in data:
            made["Positive vs negative pair similarities"] = plots.pair_similarities(
                data["view1"], data["view2"], out / "similarities.png"
            )
        made["Singular-value spectrum"] = plots.spectrum(data["embeddings"], out / "spectrum.png")
        made["Embedding map"] = plots.embedding_map(
            data["embeddings"], data.get("labels"), out / "embedding_map.png"
        )
    made["Learned temperature"] = None
    for row in rows:  # the first learned temperature of the run (several objectives: `temperature/...`)
        keys = sorted(k for k in row if k.startswith("temperature")) if row.get("kind") == "train" else []
        if keys:
            made["Learned temperature"] = temperature_curve(rows, out / "temperature.png", keys[0])
            break
    for title, name in (("Zero-shot confusion matrix", "zero_shot_confusion.png"),
                        ("Top text-to-image hits", "top_text_to_image.png")):  # `contrastkit zero-shot`
        if (out / name).is_file():
            made[title] = out / name
    robustness = _read_json(run_dir / "robustness.json")
    if robustness:
        made["Robustness: accuracy under corruptions"] = robustness_plot(robustness, out / "robustness.png")
    return {title: path for title, path in made.items() if path is not None}


def _trained_columns(run_dir: Path, final: dict) -> dict | None:
    record = _read_json(run_dir / SELECTION)
    return trained_columns(final, record) if record else None


def write_report(run_dir: str | Path) -> Path:
    """Write ``RUN_DIR/report/*.png`` and ``RUN_DIR/report/report.html``; returns the HTML path."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.toml").is_file():
        raise ValueError(f"run_dir: {run_dir} is not a contrastkit run directory (no config.toml)")
    out = run_dir / "report"
    out.mkdir(exist_ok=True)
    figures = make_plots(run_dir, out)
    final, baselines = _read_json(run_dir / "final_metrics.json"), _read_json(run_dir / "baselines.json")
    parts = [f"<h1>contrastkit run: {html.escape(run_dir.name)}</h1>"]
    if final:
        parts += [
            "<h2>Final metrics</h2>",
            html_table(final, baselines, _trained_columns(run_dir, final)),
            "<p>kNN / linear probe: held-out accuracy; alignment, uniformity: Wang &amp; Isola 2020; "
            "effective rank: Roy &amp; Vetterli 2007.</p>",
        ]
    tested = _read_json(run_dir / "test_results.json")
    if "trained encoder" in tested:
        others = {k: v for k, v in tested.items() if k not in ("trained encoder", "meta")}
        parts += ["<h2>Test set</h2>", html_table(tested["trained encoder"], others),
                  "<p>Probes fitted on the training images, scored on the separate test set; "
                  "<code>@f</code>: linear probe on a share f of the training labels.</p>"]
    robustness = _read_json(run_dir / "robustness.json")
    if robustness:
        parts += ["<h2>Robustness: accuracy drop under corruptions</h2>", robustness_html(robustness),
                  "<p>Clean test accuracy, then clean minus corrupted accuracy, mean over severities 1-3 "
                  "(<code>contrastkit.evaluate.corruptions</code>).</p>"]
    for title, path in figures.items():
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(
            f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" '
            f'src="data:image/png;base64,{encoded}">'
        )
    parts.append(
        "<h2>Configuration</h2><pre>" + html.escape((run_dir / "config.toml").read_text()) + "</pre>"
    )
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>contrastkit report</title>'
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )
    return atomic_write_text(out / "report.html", page)
