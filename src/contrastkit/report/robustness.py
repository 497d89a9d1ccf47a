"""The robustness section of the report: accuracy under each corruption against its severity
(severity 0 = the clean test set), one panel per corruption, and the table of accuracy drops.
Reads ``RUN_DIR/robustness.json``: ``{representation: RobustnessEvaluator keys without prefix}``."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.pyplot as plt

from .plots import _save

PROBES = (("knn", "kNN", "-"), ("linear_probe", "linear probe", "--"))


def _corruptions(table: dict) -> list[str]:
    names = []
    for metrics in table.values():
        for key in metrics:
            if key.startswith("knn_drop/") and "@" not in key and key != "knn_drop/mean":
                names.append(key.split("/", 1)[1])
    return list(dict.fromkeys(names))


def robustness_plot(table: dict, path: Path) -> Path | None:
    corruptions = _corruptions(table)
    if not corruptions:
        return None
    figure, axes = plt.subplots(1, len(corruptions), figsize=(3.2 * len(corruptions), 3.4), sharey=True)
    axes = [axes] if len(corruptions) == 1 else list(axes)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, corruption in zip(axes, corruptions):
        for colour, (name, metrics) in zip(colours, table.items()):
            for probe, label, style in PROBES:
                if f"{probe}_accuracy" not in metrics:
                    continue
                levels = sorted(int(k.rsplit("@", 1)[1]) for k in metrics
                                if k.startswith(f"{probe}_accuracy/{corruption}@"))
                values = [metrics[f"{probe}_accuracy"]] + [metrics[f"{probe}_accuracy/{corruption}@{s}"]
                                                           for s in levels]
                axis.plot([0, *levels], values, style, marker="o", color=colour, label=f"{name}, {label}")
        axis.set(title=corruption, xlabel="severity (0 = clean)")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy")
    axes[-1].legend(fontsize=7, loc="lower left")
    return _save(figure, path)


def robustness_html(table: dict) -> str:
    """Accuracy drop (clean minus corrupted, mean over severities), one row per corruption."""
    corruptions = _corruptions(table)
    columns = [(name, probe, label) for name in table for probe, label, _ in PROBES
               if f"{probe}_accuracy" in table[name]]
    head = "<th>corruption</th>" + "".join(f"<th>{html.escape(n)}: {label}</th>" for n, _, label in columns)
    rows = [("clean accuracy", [table[n][f"{p}_accuracy"] for n, p, _ in columns])]
    rows += [(c, [table[n][f"{p}_drop/{c}"] for n, p, _ in columns]) for c in [*corruptions, "mean"]]
    body = "".join(f"<tr><td>{html.escape(label)}</td>" + "".join(f"<td>{v:.4f}</td>" for v in values)
                   + "</tr>" for label, values in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
