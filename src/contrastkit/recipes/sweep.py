"""Sweeps: a grid of ``--set`` overrides x seeds, one run directory per cell and seed, a table.

::

    contrastkit sweep simclr-digits --grid loss.name=NTXent,DCL --grid train.batch_size=32,256 --seeds 3

writes ``OUTPUT/<cell>/seed-<s>/<run>/`` (an ordinary run directory) for every cell and seed, then
``OUTPUT/runs.csv`` (one row per run), ``OUTPUT/summary.csv`` and ``OUTPUT/summary.md`` (mean and
sample standard deviation over seeds per cell) and ``OUTPUT/<metric>.png`` (mean +- std bars).
Every cell's config is built and checked before the first run starts, so a bad grid key fails
in a second naming it. Running the same command again skips finished runs (resumable).

Linked keys change together: ``--grid 'views.num_views+train.batch_size=2+256,4+128'`` is two
cells, (2 views, batch 256) and (4 views, batch 128).
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .._atomic import atomic_write_json
from ..report.sweep_summary import file_name, plot_summary, summarise, write_tables
from ..train.config import Config, ConfigError, parse_override
from .build import build_components
from .catalogue import load_recipe

CELL_FILE = "cell.json"


@dataclass
class Cell:
    """One point of the grid: ``values`` maps each grid key to its value."""

    values: dict[str, object]

    @property
    def slug(self) -> str:
        text = ",".join(f"{key}={_text(value)}" for key, value in self.values.items()) or "base"
        return re.sub(r"[^A-Za-z0-9._=,+-]", "_", text)

    def overrides(self) -> list[str]:
        return [f"{key}={_toml(value)}" for key, value in self.values.items()]


@dataclass
class SweepResult:
    output_dir: Path
    metric: str
    runs: list[dict] = field(default_factory=list)  # one per (cell, seed)
    summary: list[dict] = field(default_factory=list)  # one per cell
    plot: Path | None = None


def _text(value) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _toml(value) -> str:
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside brackets and quotes (``[0.5, 1.0]`` stays one value)."""
    parts, depth, quote, current = [], 0, None, ""
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    return [*parts, current]


def parse_grid(items: list[str]) -> list[list[dict[str, object]]]:
    """``["loss.name=NTXent,DCL", "a+b=1+2,3+4"]`` -> one list of alternatives per ``--grid``, each
    alternative a ``{key: value}`` dict (values read as TOML values, else kept as strings)."""
    axes = []
    for item in items:
        keys_text, sep, values_text = item.partition("=")
        keys = [k.strip() for k in keys_text.split("+")]
        if not sep or not values_text.strip() or not all(keys):
            raise ConfigError(f"--grid {item!r}: expected section.key=value1,value2,...")
        alternatives = []
        for raw in _split_top_level(values_text, ","):
            values = _split_top_level(raw, "+") if len(keys) > 1 else [raw]
            if len(values) != len(keys):
                raise ConfigError(
                    f"--grid {item!r}: value {raw!r} has {len(values)} parts for {len(keys)} linked keys"
                )
            choice = {}
            for key, value in zip(keys, values, strict=True):
                parts, parsed = parse_override(f"{key}={value}")
                choice[".".join(parts)] = parsed
            alternatives.append(choice)
        axes.append(alternatives)
    return axes


def grid_cells(axes: list[list[dict[str, object]]]) -> list[Cell]:
    cells = []
    for combination in itertools.product(*axes):
        values: dict[str, object] = {}
        for choice in combination:
            values.update(choice)
        cells.append(Cell(values))
    return cells


def cell_config(recipe: str, overrides: list[str], cell: Cell, seed: int) -> tuple[Config, str]:
    """The validated config of one run (components built and checked, nothing trained)."""
    config, name = load_recipe(recipe, [*overrides, *cell.overrides()])
    config.run.seed = config.run.seed + seed
    build_components(config)
    return config, name


def check_cells(recipe: str, overrides: list[str], cells: list[Cell]) -> None:
    """Build every cell's config before anything runs; the error names the grid cell's keys."""
    load_recipe(recipe, list(overrides))  # a bad recipe or --set fails on its own first
    for cell in cells:
        try:
            cell_config(recipe, overrides, cell, 0)
        except ConfigError as error:
            raise ConfigError(f"--grid {', '.join(cell.overrides())}: {error}") from None


def finished_run(seed_dir: Path) -> dict | None:
    record = seed_dir / CELL_FILE
    if not record.is_file():
        return None
    row = json.loads(record.read_text(encoding="utf-8"))
    return row if (Path(row["run_dir"]) / "final_metrics.json").is_file() else None


def run_sweep(
    recipe: str,
    grid: list[str],
    *,
    seeds: int = 1,
    overrides: list[str] = (),
    metric: str = "knn_accuracy",
    output_dir: str | Path | None = None,
    quiet: bool = True,
    say=None,
) -> SweepResult:
    """Run every grid cell ``seeds`` times (seeds ``run.seed + 0 .. seeds - 1``) and summarise
    ``metric`` (a key of the runs' ``final_metrics.json``). Finished runs are read, not rerun.

    Raises:
        ConfigError: a bad grid key or value, naming it, before any run starts.
    """
    from .runner import train

    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds: expected an int >= 1, got {seeds!r}")
    overrides = list(overrides)
    cells = grid_cells(parse_grid(list(grid)))
    check_cells(recipe, overrides, cells)
    base, name = load_recipe(recipe, overrides)
    output = Path(output_dir) if output_dir is not None else Path(base.run.output_dir) / f"sweep-{name}"
    result = SweepResult(output, metric)
    for cell in cells:
        for seed in range(seeds):
            seed_dir = output / cell.slug / f"seed-{seed}"
            row = finished_run(seed_dir)
            if row is None:
                config, run_name = cell_config(recipe, overrides, cell, seed)
                config.run.output_dir = str(seed_dir)
                if say:
                    say(f"{cell.slug} seed {seed}: training")
                run = train(config, run_name, quiet=quiet, write_report=False)
                row = {
                    "cell": cell.slug,
                    "values": cell.values,
                    "seed": config.run.seed,
                    "run_dir": str(run.run_dir.path),
                    "seconds": round(run.seconds, 2),
                    "final": run.final,
                    "baselines": run.baselines,
                }
                atomic_write_json(seed_dir / CELL_FILE, row)
            elif say:
                say(f"{cell.slug} seed {seed}: finished already, skipped")
            if metric not in row["final"]:
                raise ConfigError(
                    f"metric {metric!r}: not among the run's final metrics {sorted(row['final'])}"
                )
            result.runs.append(row)
    pairs = [(cell.slug, cell.values) for cell in cells]
    result.summary = summarise(pairs, result.runs, metric)
    write_tables(output, result.runs, result.summary, pairs, metric)
    result.plot = plot_summary(result.summary, metric, output / f"{file_name(metric)}.png")
    return result


