"""The comparison table (csv + markdown) and plot of a sweep (see :mod:`contrastkit.recipes.sweep`).

``runs`` are dicts with ``cell``, ``values`` ({grid key: value}), ``seed``, ``final``, ``baselines``,
``seconds`` and ``run_dir``; ``cells`` are ``(slug, values)`` pairs in grid order.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

from .._atomic import atomic_write_text


def _text(value) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; NaN for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, float("nan")
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def summarise(cells: list[tuple[str, dict]], runs: list[dict], metric: str) -> list[dict]:
    summary = []
    for slug, cell_values in cells:
        rows = [r for r in runs if r["cell"] == slug]
        values = [float(r["final"][metric]) for r in rows]
        mean, std = mean_std(values)
        baselines = {}
        for name in dict.fromkeys(name for r in rows for name in r["baselines"]):
            found = [r["baselines"][name].get(metric) for r in rows if name in r["baselines"]]
            found = [v for v in found if v is not None]
            if found:
                baselines[f"baseline: {name}"], spread = mean_std(found)
                if spread > 0:  # a baseline that changes with the seed (few-shot samples; NaN > 0 is False)
                    baselines[f"baseline std: {name}"] = spread
        summary.append(
            {
                "cell": slug,
                **{key: _text(value) for key, value in cell_values.items()},
                "seeds": len(values),
                f"{metric}_mean": mean,
                f"{metric}_std": std,
                "values": " ".join(f"{v:.4f}" for v in values),
                **baselines,
                "seconds_mean": mean_std([r["seconds"] for r in rows])[0],
            }
        )
    return summary


def file_name(metric: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", metric)


def _csv_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    columns = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def markdown_table(summary: list[dict], cells: list[tuple[str, dict]], metric: str) -> str:
    keys = list(dict.fromkeys(key for _, values in cells for key in values))
    baselines = list(dict.fromkeys(k for row in summary for k in row if k.startswith("baseline: ")))
    header = [*keys, "seeds", f"{metric} mean ± std", "per seed", *baselines, "s / run"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in summary:
        std = row[f"{metric}_std"]
        spread = f"{row[f'{metric}_mean']:.4f}" + ("" if math.isnan(std) else f" ± {std:.4f}")
        found = [(f"{row[b]:.4f}" + (f" ± {row[s]:.4f}" if (s := b.replace(":", " std:", 1)) in row else ""))
                 if b in row else "" for b in baselines]
        cells_text = [row.get(k, "") for k in keys]
        lines.append(
            "| " + " | ".join([*cells_text, str(row["seeds"]), spread, row["values"], *found,
                               f"{row['seconds_mean']:.1f}"]) + " |"
        )
    return "\n".join(lines) + "\n"


def write_tables(output_dir: Path, runs: list[dict], summary: list[dict], cells, metric: str) -> None:
    """``runs.csv`` (one row per run), ``summary.csv`` and ``summary.md`` (one row per cell)."""
    rows = [
        {"cell": r["cell"], "seed": r["seed"], **{k: _text(v) for k, v in r["values"].items()},
         **r["final"], "seconds": r["seconds"], "run_dir": r["run_dir"]}
        for r in runs
    ]
    atomic_write_text(output_dir / "runs.csv", _csv_text(rows))
    atomic_write_text(output_dir / "summary.csv", _csv_text(summary))
    atomic_write_text(output_dir / "summary.md", markdown_table(summary, cells, metric))


def plot_summary(summary: list[dict], metric: str, path: Path) -> Path:
    """Bars of the metric's mean per cell with +- one standard deviation over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r["cell"].replace(",", "\n") for r in summary]
    means = [r[f"{metric}_mean"] for r in summary]
    stds = [0.0 if math.isnan(r[f"{metric}_std"]) else r[f"{metric}_std"] for r in summary]
    figure, axis = plt.subplots(figsize=(max(4.0, 1.4 * len(means) + 1), 3.8))
    axis.bar(range(len(means)), means, yerr=stds, capsize=4, color="tab:blue", alpha=0.8)
    axis.set_xticks(range(len(means)), labels, fontsize=7)
    low = min(m - s for m, s in zip(means, stds, strict=True))
    high = max(m + s for m, s in zip(means, stds, strict=True))
    margin = max(0.02, 0.15 * (high - low))
    axis.set_ylim(low - margin, high + margin)
    seeds = max(r["seeds"] for r in summary)
    axis.set(ylabel=metric, title=f"{metric}: mean ± std over {seeds} seed(s)")
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
