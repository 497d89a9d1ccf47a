"""Graph recommendation recipes (LightGCL): a dedicated small loop, because one step scores the whole
graph at once (no per-sample views); it reuses the trainer's run directory, checkpoints, optimizer,
LR schedule and thread settings.

One step (Cai et al., 2023, arXiv:2302.08191, official ``main.py``; FORMULAS.md 10): propagate both
views, take a batch of BPR triples ``(u, i+, i-)``, and minimise

.. math::
    \\mathcal{L} = \\mathcal{L}_r + \\lambda_1 \\mathcal{L}_s + \\lambda_2 \\big(\\lVert E_u^{(0)}\\rVert^2
        + \\lVert E_i^{(0)}\\rVert^2\\big)

with :func:`~contrastkit.losses.bpr_loss` on the main view and
:class:`~contrastkit.losses.LightGCLContrastive` between the SVD view of the batch's users and items
(``i+ ++ i-``) and the main view of every node. ``lambda_1`` = ``loss.contrastive_weight``,
``lambda_2`` = ``loss.l2_weight``. Evaluation: Recall@K / NDCG@K of full ranking on held-out
interactions, against item popularity and the untrained encoder.
"""

from __future__ import annotations

import sys
import time

import torch
from torch import nn

from ..data import BPRSampler, leave_out_split
from ..evaluate import recommendation_metrics
from ..losses import bpr_loss
from ..train.checkpoint import prune_checkpoints, save_checkpoint
from ..train.config import Config, ConfigError
from ..train.rundir import RunDir
from ..train.schedule import learning_rate
from ..train.steps import build_optimizer
from ..train.toml_writer import dumps_toml
from .registry import DATA_SOURCES, ENCODERS
from .result import RunResult

GRAPH_LOSS_KEYS = {"contrastive_weight": 0.2, "l2_weight": 1e-7}  # official parser.py lambda_1, lambda_2
KS = (20,)
EMBEDDINGS = "embeddings.safetensors"


class GraphViews:
    """The two views of LightGCL's graph: the (edge-dropped) propagation and the rank-``svd_rank``
    SVD reconstruction. Calling it with a :class:`~contrastkit.encoders.graph.GraphEncoder` returns
    ``[(users, items), (users_svd, items_svd)]``."""

    def __init__(self, svd_rank: int = 5, edge_dropout: float = 0.0):
        if isinstance(svd_rank, bool) or not isinstance(svd_rank, int) or svd_rank < 1:
            raise ValueError(f"svd_rank: expected a positive int, got {svd_rank!r}")
        if not 0.0 <= edge_dropout < 1.0:
            raise ValueError(f"edge_dropout: expected a probability in [0, 1), got {edge_dropout!r}")
        self.svd_rank, self.edge_dropout = svd_rank, float(edge_dropout)

    def __call__(self, encoder: nn.Module, generator: torch.Generator | None = None) -> list:
        out = encoder(generator)
        return [(out.user, out.item), (out.user_svd, out.item_svd)]


def is_graph_config(config: Config) -> bool:
    return config.views.name == "lightgcl_svd"


def graph_loss_weights(config: Config) -> dict[str, float]:
    options = config.loss.options
    return {key: float(options.get(key, default)) for key, default in GRAPH_LOSS_KEYS.items()}


def popularity_scores(train) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank every item by its training interaction count, for every user (the baseline)."""
    counts = torch.bincount(train.items, minlength=train.num_items).float()
    return torch.ones(train.num_users, 1), counts[:, None]


def evaluate_graph(user, item, train_lists, test_lists) -> dict[str, float]:
    return recommendation_metrics(user.detach(), item.detach(), test_lists, train_lists, KS)


def load_interactions(config: Config):
    """``(train, test)`` interactions: each user's ``data.test_fraction`` held out (seeded)."""
    options = dict(config.data.options)
    if config.data.path is not None:
        options["path"] = config.data.path
    interactions = DATA_SOURCES.build(config.data.name, options)
    return leave_out_split(interactions, test_fraction=config.data.test_fraction, seed=config.run.seed)


def evaluate_graph_run(run: RunDir, config: Config) -> dict[str, float]:
    """Recall / NDCG of the embeddings saved in ``RUN_DIR/model`` on the run's held-out split."""
    from safetensors.torch import load_file

    path = run.model / EMBEDDINGS
    if not path.is_file():
        raise ValueError(f"run_dir: {run.path} has no trained embeddings ({path.name}); "
                         "is training finished?")
    train, test = load_interactions(config)
    saved = load_file(str(path))
    return evaluate_graph(saved["user"], saved["item"], train.items_by_user(), test.items_by_user())


def train_graph(config: Config, name: str, parts, *, quiet: bool = False, write_report=None):
    """Train a LightGCL recipe into a new run directory; returns a :class:`RunResult`."""
    started = time.perf_counter()

    def say(message: str) -> None:
        if not quiet:
            print(f"contrastkit: {message}", file=sys.stderr, flush=True)

    weights = graph_loss_weights(config)
    train, test = load_interactions(config)
    views = parts.views
    encoder = ENCODERS.build(config.encoder.name, config.encoder.options, {
        "users": train.users, "items": train.items, "num_users": train.num_users,
        "num_items": train.num_items, "svd_rank": views.svd_rank, "edge_dropout": views.edge_dropout,
        "seed": config.run.seed})
    run = RunDir.new(config.run.output_dir, name)
    run.write_config(dumps_toml(config.model_dump(mode="json")))
    train_lists, test_lists = train.items_by_user(), test.items_by_user()

    def score(model: nn.Module) -> dict[str, float]:
        model.eval()
        with torch.no_grad():
            main, _ = views(model)
        model.train()
        return evaluate_graph(*main, train_lists, test_lists)

    baselines = {}
    if config.eval.baselines:
        say("evaluating the baselines (item popularity, untrained encoder)")
        baselines = {"popularity": evaluate_graph(*popularity_scores(train), train_lists, test_lists),
                     "untrained encoder": score(encoder)}
        run.write_json(run.baselines, baselines)
    loss = parts.loss
    optimizer = build_optimizer(list(encoder.parameters()), config.optim)
    sampler = BPRSampler(train, seed=config.run.seed)
    settings = config.train
    per_epoch = -(-len(train) // settings.batch_size)
    total = settings.max_steps or settings.epochs * per_epoch
    generator = torch.Generator().manual_seed(config.run.seed)
    step, best = 0, None
    state = nn.ModuleDict({"model": encoder, "loss": loss})
    while step < total:
        for users, positives, negatives in sampler.epoch(settings.batch_size):
            lr = learning_rate(step, peak=config.optim.lr, total_steps=total,
                               warmup_steps=config.optim.warmup_steps, schedule=config.optim.schedule,
                               min_ratio=config.optim.min_lr_ratio)
            for group in optimizer.param_groups:
                group["lr"] = lr
            (user, item), (user_svd, item_svd) = views(encoder, generator)
            ranking = bpr_loss(user[users], item[positives], item[negatives])
            contrastive = loss(user_svd, user, users, item_svd, item, torch.cat([positives, negatives]))
            l2 = encoder.user_embedding.square().sum() + encoder.item_embedding.square().sum()
            total_loss = ranking + weights["contrastive_weight"] * contrastive + weights["l2_weight"] * l2
            if not torch.isfinite(total_loss):
                raise FloatingPointError(f"loss is {float(total_loss)} at step {step}")
            optimizer.zero_grad(set_to_none=True)
            total_loss.backward()
            if config.optim.grad_clip:
                nn.utils.clip_grad_norm_(encoder.parameters(), config.optim.grad_clip)
            optimizer.step()
            step += 1
            if step % settings.log_every == 0 or step == total:
                run.append_metrics({"kind": "train", "step": step, "loss": total_loss.item(),
                                    "bpr": ranking.item(), "contrastive": contrastive.item(), "lr": lr})
            if settings.eval_every and (step % settings.eval_every == 0 or step == total):
                metrics = score(encoder)
                run.append_metrics({"kind": "eval", "step": step, **metrics})
                say(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
                key = settings.best_metric
                if key in metrics and (best is None or metrics[key] > best[1]):
                    best = (step, metrics[key])
            if step % settings.checkpoint_every == 0 or step == total:
                save_checkpoint(run.checkpoints, step, state, optimizer, {"seed": config.run.seed})
                prune_checkpoints(run.checkpoints, settings.keep_last, {best[0]} if best else set())
            if step >= total:
                break
    if best is not None:
        run.write_json(run.best, {"step": best[0], "metric": settings.best_metric, "value": best[1]})
    say("final evaluation")
    final = score(encoder)
    run.write_json(run.final_metrics, final)
    run.model.mkdir(parents=True, exist_ok=True)
    encoder.eval()
    with torch.no_grad():
        (user, item), _ = views(encoder)
    from safetensors.torch import save_file

    save_file({"user": user.contiguous(), "item": item.contiguous()}, str(run.model / EMBEDDINGS))
    run.write_json(run.model / "ids.json", {"users": [str(u) for u in train.user_ids],
                                             "items": [str(i) for i in train.item_ids]})
    if config.train.report if write_report is None else write_report:
        from ..report import write_report as make_report

        say("writing the report")
        make_report(run.path)
    return RunResult(run, final, baselines, time.perf_counter() - started, step, None)


def check_graph_config(config: Config) -> None:
    """Keys a graph recipe needs (its loss must be LightGCLContrastive, its encoder ``graph``)."""
    if config.loss.name != "LightGCLContrastive":
        raise ConfigError(f"loss.name = {config.loss.name!r}: views 'lightgcl_svd' train with "
                          "'LightGCLContrastive' (+ BPR)")
    if config.encoder.name != "graph":
        raise ConfigError(f"encoder.name = {config.encoder.name!r}: views 'lightgcl_svd' need "
                          "encoder 'graph'")
