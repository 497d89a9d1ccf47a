"""``contrastkit eval RUN_DIR --task NAME --data FILE``: one evaluation task on the user's file, for
the trained tower and for the tower before training (the untrained encoder, or the base model of a
pretrained one)."""

from __future__ import annotations

from pathlib import Path

from ..train import distributed
from ..train.config import ConfigError
from ..train.embedding import embedding_function
from .build import build_model, is_pretrained
from .eval_tasks import EVAL_TASKS
from .inference import load_run_encoder
from .runner import limit_threads, read_run_config
from .splits import load_splits


def evaluate_task(run_dir: str | Path, task: str, data: str | Path, tower: str | None = None
                  ) -> tuple[dict, dict]:
    """``(trained metrics, {"untrained encoder" | "base model": metrics})`` of task ``task`` on ``data``."""
    if not Path(data).is_file():
        raise ConfigError(f"--data {data}: no such file")
    config = read_run_config(run_dir)
    limit_threads(config.run.threads)
    evaluator = EVAL_TASKS.build(task, {"path": str(data)})
    device = distributed.local_device(config.run.device)
    folder = Path(run_dir) if tower is None else Path(run_dir) / "towers" / tower
    if tower is not None and not folder.is_dir():
        names = sorted(p.name for p in (Path(run_dir) / "towers").glob("*")) or ["(one shared tower)"]
        raise ConfigError(f"--tower {tower}: not a tower of this run; expected one of {names}")
    trained, _ = load_run_encoder(folder, device, sub="model" if tower is None else None)
    metrics = evaluator(embedding_function(trained, device))
    model = build_model(config, load_splits(config).train)  # the same seed: the weights before training
    start = model.towers[tower] if tower is not None else model.tower()
    name = "base model" if is_pretrained(config) else "untrained encoder"
    return metrics, {name: evaluator(embedding_function(start.encoder.to(device), device))}
