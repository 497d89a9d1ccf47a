"""Run a recipe end to end: validate, build, train (or resume), evaluate, save, report."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from ..train import distributed
from ..train.callbacks import ProgressBar
from ..train.config import Config, ConfigError, parse_toml, validate_config
from ..train.evaluation import flatten_inputs, held_out_evaluators
from ..train.pair_evaluation import PairEvaluator, default_pair
from ..train.rundir import RunDir
from ..train.toml_writer import dumps_toml
from ..train.trainer import Trainer
from .build import (
    bind_views,
    build_components,
    build_model,
    is_pretrained,
    no_duplicates_sampler,
    views_by_field,
)
from .finish import finish, load_selected_model
from .graph import graph_setup, is_graph_config
from .result import RunResult
from .splits import load_splits
from .zero_shot_task import bind_tasks

PERIODIC_METRICS = ("knn", "alignment", "uniformity", "effective_rank")  # the linear probe runs at the end


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


def resolved_config(config: Config) -> dict:
    """The config as saved in the run directory (re-read by ``--resume`` and ``eval``): without the
    default ``[loss]`` when ``[[objectives]]`` replace it."""
    data = config.model_dump(mode="json")
    if config.objectives is not None:
        data.pop("loss", None)
    return data


def make_evaluator(config: Config, train, test, views, tasks=()):
    """The run's evaluation on ``test``: held-out pairs for fields data, else probes and geometry
    (see :mod:`contrastkit.train.evaluation`); plus the ``[[eval.tasks]]`` evaluators."""
    cap = config.eval.max_samples
    own = getattr(test, "held_out_evaluator", None)  # data with its own test table (few-shot texts)
    if own is not None:
        return own(max_samples=cap, tasks=tasks)
    if not hasattr(train, "inputs"):  # rows with named fields: held-out pair retrieval
        pair = default_pair(test.fields)
        if pair is None:
            raise ConfigError(f"eval: data with fields {list(test.fields)} has no pair of encoded fields "
                              "to evaluate (e.g. anchor and positive)")
        return PairEvaluator(test, *pair, max_samples=cap, tasks=tasks)
    train_eval = train.subset(torch.arange(min(cap, len(train))))
    test_eval = test.subset(torch.arange(min(cap, len(test))))
    return held_out_evaluators(train_eval, test_eval, views, config.eval.metrics, config.eval.knn_k,
                               config.run.seed, tasks)


def run_data(config: Config, parts):
    """``(train data, evaluators)`` of a run, where ``evaluators()`` gives ``(test evaluator,
    validation evaluator or None)`` (built after the model, as they always were): a graph run's (see
    :mod:`.graph`), else the splits of :func:`.splits.load_splits` and :func:`make_evaluator`."""
    if is_graph_config(config):
        if distributed.world_size() > 1:
            raise ConfigError("graph recipes (views 'lightgcl_svd') run in one process, not under torchrun")
        data, evaluator, watched = graph_setup(config, parts.views)
        return data, lambda: (evaluator, watched)
    splits = load_splits(config)
    bind_views(parts.views, splits.train)

    def evaluators():
        evaluator = make_evaluator(config, splits.train, splits.test, parts.views,
                                   bind_tasks(parts.tasks, config, splits.test, "test", splits.train))
        watched = None if splits.validation is None else make_evaluator(
            config, splits.train, splits.validation, parts.views,
            bind_tasks(parts.tasks, config, splits.validation, "validation", splits.train))
        return evaluator, watched

    return splits.train, evaluators


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
    train_data, evaluators = run_data(config, parts)
    model = build_model(config, train_data)
    views = views_by_field(parts, train_data)
    main = distributed.is_main()
    if resume_dir is not None:
        run = RunDir(resume_dir)
    else:
        path = str(RunDir.new(config.run.output_dir, name).path) if main else None
        run = RunDir(distributed.broadcast_object(path))
        if main:
            run.write_config(dumps_toml(resolved_config(config)))
    evaluator, watched = evaluators()  # the final table's, and the one selection looks at
    if watched is None:  # without a validation split the curves are on the test split
        watched = evaluator
    periodic = [lambda embed: watched(embed, PERIODIC_METRICS)]
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
        start = "base model" if is_pretrained(config) else "untrained encoder"
        say(f"evaluating the baselines (raw input, {start})")
        baselines = {**(evaluator.baselines() if hasattr(evaluator, "baselines") else {}),
                     start: trainer.evaluate_full(evaluator)}
        if isinstance(getattr(train_data, "inputs", None), torch.Tensor):
            baselines = {"raw input": evaluator(flatten_inputs), **baselines}
        run.write_json(run.baselines, baselines)
    trainer.fit()
    result = RunResult(run, {}, baselines, 0.0, trainer.step, trainer.stop_reason)
    if main:
        say("final evaluation on the test split")
        result.final, result.selection = finish(trainer, run, evaluator, train_data, name)
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
    device = distributed.local_device(config.run.device)
    parts = build_components(config)
    train_data, evaluators = run_data(config, parts)
    evaluator, _ = evaluators()
    from ..train.embedding import embedding_function

    run = RunDir(run_dir)
    if (config.towers and len(config.towers) > 1) or is_graph_config(config):  # from the checkpoint
        model = load_selected_model(config, run, train_data)
    else:
        model, _ = load_run_encoder(run_dir, device)
    metrics = evaluator(embedding_function(model.to(device), device))
    run.write_json(run.path / "eval.json", metrics)
    return metrics, run.read_json(run.baselines) or {}
