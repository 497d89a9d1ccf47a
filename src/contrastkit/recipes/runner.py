"""Run a recipe end to end: validate, build, train (or resume), evaluate, save, report."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._atomic import atomic_write
from ..train import distributed
from ..train.callbacks import ProgressBar
from ..train.config import Config, ConfigError, parse_toml, validate_config
from ..train.evaluation import EmbeddingEvaluator, flatten_inputs
from ..train.pair_evaluation import PairEvaluator, default_pair
from ..train.rundir import RunDir
from ..train.toml_writer import dumps_toml
from ..train.trainer import Trainer
from .build import (
    bind_views,
    build_components,
    build_model,
    input_description,
    load_data,
    no_duplicates_sampler,
    views_by_field,
)
from .graph import evaluate_graph_run, is_graph_config, train_graph
from .inference import save_run_encoder

PERIODIC_METRICS = ("knn", "alignment", "uniformity", "effective_rank")  # the linear probe runs at the end


@dataclass
class RunResult:
    run_dir: RunDir
    final: dict[str, float]
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0
    steps: int = 0
    stop_reason: str | None = None


def limit_threads(threads: int | None):
    """Use ``threads`` CPU threads in torch and in the BLAS / OpenMP pools of NumPy and scikit-learn.
    On a busy machine, more threads than free cores make OpenMP spin: measured on the shared 2-core
    box, a training step took 2.5 s with 2 threads and 0.085 s with 1."""
    if not threads:
        return None
    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        return None
    return threadpool_limits(limits=threads)


def setup_runtime(config: Config) -> tuple[torch.device, bool]:
    """Threads, determinism, device (+ process group under torchrun) and bf16 autocast."""
    limits = limit_threads(config.run.threads)
    if limits is not None:
        _POOL_LIMITS.append(limits)
    if config.run.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    device = distributed.local_device(config.run.device)
    distributed.init_from_environment(device)
    bf16 = config.run.precision == "bf16" or (config.run.precision == "auto" and device.type == "cuda")
    return device, bf16


def read_run_config(run_dir: str | Path) -> Config:
    run = RunDir(run_dir)
    if not run.config.is_file():
        raise ConfigError(f"run directory {run_dir}: no config.toml (not a contrastkit run)")
    return validate_config(parse_toml(run.config.read_text(), str(run.config)))


def make_evaluator(config: Config, train, test, views):
    cap = config.eval.max_samples
    if not hasattr(train, "inputs"):  # rows with named fields: held-out pair retrieval
        pair = default_pair(test.fields)
        if pair is None:
            raise ConfigError(f"eval: data with fields {list(test.fields)} has no pair of encoded fields "
                              "to evaluate (e.g. anchor and positive)")
        return PairEvaluator(test, *pair, max_samples=cap)
    train_eval = train.subset(torch.arange(min(cap, len(train))))
    test_eval = test.subset(torch.arange(min(cap, len(test))))
    return EmbeddingEvaluator(
        train_eval, test_eval, views, config.eval.metrics, config.eval.knn_k, config.run.seed
    )


def train(config: Config, name: str, **options) -> RunResult:
    """Train ``config`` into a new run directory, or continue the run in ``resume_dir``.

    Keyword options: ``resume_dir``, ``quiet``, ``callbacks``, ``write_report``. The process-wide
    settings it changes (threads, deterministic algorithms) are restored afterwards.
    """
    threads = torch.get_num_threads()
    deterministic = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    try:
        return _train(config, name, **options)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
        if _POOL_LIMITS:
            _POOL_LIMITS.pop().restore_original_limits()


_POOL_LIMITS: list = []


def _train(
    config: Config,
    name: str,
    *,
    resume_dir: str | Path | None = None,
    quiet: bool = False,
    callbacks=(),
    write_report: bool | None = None,
) -> RunResult:
    """Train ``config`` into a new run directory, or continue the run in ``resume_dir``."""
    started = time.perf_counter()

    def say(message: str) -> None:
        if not quiet and distributed.is_main():
            print(f"contrastkit: {message}", file=sys.stderr, flush=True)

    parts = build_components(config)  # every key checked before any work
    device, bf16 = setup_runtime(config)
    if is_graph_config(config):  # one step scores the whole graph: its own small loop
        if resume_dir is not None:
            raise ConfigError("--resume: graph recipes (views 'lightgcl_svd') cannot resume yet")
        if distributed.world_size() > 1:
            raise ConfigError("graph recipes (views 'lightgcl_svd') run in one process, not under torchrun")
        return train_graph(config, name, parts, quiet=quiet, write_report=write_report)
    train_data, test_data = load_data(config)
    bind_views(parts.views, train_data)
    model = build_model(config, train_data)
    views = views_by_field(parts, train_data)
    main = distributed.is_main()
    if resume_dir is not None:
        run = RunDir(resume_dir)
    else:
        path = str(RunDir.new(config.run.output_dir, name).path) if main else None
        run = RunDir(distributed.broadcast_object(path))
        if main:
            run.write_config(dumps_toml(config.model_dump(mode="json")))
    evaluator = make_evaluator(config, train_data, test_data, parts.views)
    periodic = [lambda embed: evaluator(embed, PERIODIC_METRICS)]
    trainer = Trainer(
        model,
        views,
        parts.objectives,
        train_data,
        train=config.train,
        optim=config.optim,
        run_dir=run,
        device=device,
        seed=config.run.seed,
        bf16=bf16,
        evaluators=periodic,
        callbacks=[] if quiet else [ProgressBar(name), *callbacks],
        scale=config.scale,
        sampler=no_duplicates_sampler(config, train_data),
    )
    if quiet:
        trainer.callbacks = list(callbacks)
    if resume_dir is not None and not trainer.resume() and main:
        run.truncate_metrics(0)  # killed before its first checkpoint: start again in the same folder
    baselines = run.read_json(run.baselines) or {}
    if main and config.eval.baselines and not baselines:
        say("evaluating the baselines (raw input, untrained encoder)")
        baselines = {"untrained encoder": trainer.evaluate_full(evaluator)}
        if isinstance(getattr(train_data, "inputs", None), torch.Tensor):
            baselines = {"raw input": evaluator(flatten_inputs), **baselines}
        run.write_json(run.baselines, baselines)
    trainer.fit()
    result = RunResult(run, {}, baselines, 0.0, trainer.step, trainer.stop_reason)
    if main:
        say("final evaluation")
        result.final = trainer.evaluate_full(evaluator)
        run.write_json(run.final_metrics, result.final)
        field = next(f for f in trainer.fields if model.tower_name(f) == model.default) \
            if model.assign else "anchor"
        save_run_encoder(run.model, model.tower().encoder, input_description(train_data, field), name)
        embed = trainer.embed_function()
        arrays = evaluator.analysis(embed)
        atomic_write(run.analysis, lambda tmp: np.savez(tmp.open("wb"), **arrays))
        if config.train.report if write_report is None else write_report:
            from ..report import write_report as make_report

            say("writing the report")
            make_report(run.path)
    distributed.barrier()
    result.seconds = time.perf_counter() - started
    return result


def evaluate_run(run_dir: str | Path, quiet: bool = False) -> tuple[dict, dict]:
    """Re-evaluate the trained encoder of ``run_dir`` on its data split; writes ``eval.json`` and
    returns ``(metrics, baselines)``."""
    from .inference import load_run_encoder

    config = read_run_config(run_dir)
    limit_threads(config.run.threads)
    if is_graph_config(config):
        run = RunDir(run_dir)
        metrics = evaluate_graph_run(run, config)
        run.write_json(run.path / "eval.json", metrics)
        return metrics, run.read_json(run.baselines) or {}
    device = distributed.local_device(config.run.device)
    parts = build_components(config)
    train_data, test_data = load_data(config)
    bind_views(parts.views, train_data)
    encoder, _ = load_run_encoder(run_dir, device)
    evaluator = make_evaluator(config, train_data, test_data, parts.views)
    from ..train.embedding import embedding_function

    metrics = evaluator(embedding_function(encoder, device))
    run = RunDir(run_dir)
    run.write_json(run.path / "eval.json", metrics)
    return metrics, run.read_json(run.baselines) or {}
