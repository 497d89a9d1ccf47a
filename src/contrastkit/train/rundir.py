"""The run directory: resolved config, metrics as JSON lines, checkpoints, model, report.

::

    RUN_DIR/config.toml          the resolved configuration (``train --resume`` reads it)
    RUN_DIR/metrics.jsonl        one JSON object per line: {"kind": "train"|"eval", "step": ..., ...}
    RUN_DIR/baselines.json       metrics of the raw inputs and of the untrained encoder
    RUN_DIR/final_metrics.json   metrics of the trained encoder
    RUN_DIR/checkpoints/         step-XXXXXXXX.{safetensors,json}, best.json
    RUN_DIR/model/               the trained encoder (config.json + model.safetensors)
    RUN_DIR/analysis.npz         held-out embeddings used by the report
    RUN_DIR/report/              PNG plots and report.html
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .._atomic import atomic_write_json, atomic_write_text


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.config = self.path / "config.toml"
        self.metrics = self.path / "metrics.jsonl"
        self.baselines = self.path / "baselines.json"
        self.final_metrics = self.path / "final_metrics.json"
        self.checkpoints = self.path / "checkpoints"
        self.best = self.checkpoints / "best.json"
        self.model = self.path / "model"
        self.analysis = self.path / "analysis.npz"
        self.report = self.path / "report"

    @classmethod
    def new(cls, output_dir: str | os.PathLike, name: str) -> RunDir:
        """``output_dir/<name>-<UTC timestamp>`` (a numeric suffix if it exists already); ``name``
        must be a plain name, so the run folder is always directly inside ``output_dir``."""
        if not name or Path(name).name != name or name in (".", "..") or "\\" in name:
            raise ValueError(f"name: {name!r} is not a plain run name (no path separators or '..')")
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        base = Path(output_dir) / f"{name}-{stamp}"
        path, suffix = base, 1
        while path.exists():
            suffix += 1
            path = Path(f"{base}-{suffix}")
        path.mkdir(parents=True)
        return cls(path)

    def write_config(self, text: str) -> None:
        atomic_write_text(self.config, text)

    def append_metrics(self, row: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.metrics, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read_metrics(self) -> list[dict]:
        """Complete JSON rows (a torn last line, from a kill mid-write, is skipped)."""
        if not self.metrics.is_file():
            return []
        rows = []
        for line in self.metrics.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return rows

    def truncate_metrics(self, step: int) -> None:
        """Keep only rows up to ``step`` (used on resume, so replayed steps are not logged twice)."""
        rows = [r for r in self.read_metrics() if r.get("step", 0) <= step]
        atomic_write_text(self.metrics, "".join(json.dumps(r) + "\n" for r in rows))

    def write_json(self, path: Path, obj) -> None:
        atomic_write_json(path, obj)

    def read_json(self, path: Path):
        return json.loads(path.read_text()) if path.is_file() else None
