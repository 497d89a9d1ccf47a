"""One training loop for every recipe: data -> views -> model -> loss -> optimizer step.

Randomness is a function of ``(seed, micro-batch)`` (see :mod:`.batching`), the learning rate a
function of the step (:mod:`.schedule`), and the rest of the state (weights, optimizer, best metric)
is checkpointed, so a run killed at any moment resumes to the same final weights on CPU.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..data.fields import RAW_FIELDS, data_fields, encoded_fields
from ..encoders.towers import Towers
from . import distributed
from .batching import EpochSampler, derived_seed
from .best import BestTracker
from .checkpoint import (
    list_checkpoints,
    load_checkpoint,
    model_state,
    prune_checkpoints,
    restore_rng,
    save_checkpoint,
    unpack_optimizer,
)
from .config import OptimSection, ScaleSection, TrainSection
from .embedding import embedding_function, to_device
from .field_forward import encode, view_batches
from .objectives import Objective, total_loss
from .rundir import RunDir
from .scaling import ScaleStep, average_loss_gradients, output_dim
from .schedule import learning_rate
from .steps import build_optimizer


class Trainer:
    """Args:
    model: module whose ``forward`` gives what the loss sees (and ``embed`` the representation),
        or :class:`~contrastkit.encoders.towers.Towers` (each field through its own tower; a
        tower's ``lr_scale`` attribute scales its learning rate).
    views: ``{field: views(inputs, generator) -> list of V views}``; a single callable applies to
        the first encoded field; fields without views are encoded once.
    objectives: a loss module (called as its declaration or the default says, see
        :mod:`.objectives`) or a list of :class:`~contrastkit.train.objectives.Objective`.
    train_data: the field protocol of :mod:`contrastkit.data.fields` (``len()``, ``fields``,
        ``batch(indices) -> dict``).
    sampler: batch sampler (default :class:`~contrastkit.train.batching.EpochSampler`).
    evaluators: callables ``evaluator(embed_fn) -> dict[str, float]``.
    run_dir: where metrics and checkpoints go (written by rank 0 only).
    scale: the ``[scale]`` table (GradCache, MoCo; see :mod:`.scaling`), or ``None``.
    """

    def __init__(
        self,
        model: nn.Module,
        views: Callable | dict | None,
        objectives: nn.Module | Sequence[Objective],
        train_data,
        *,
        train: TrainSection,
        optim: OptimSection,
        run_dir: RunDir,
        device: torch.device,
        seed: int = 0,
        bf16: bool = False,
        evaluators: Sequence[Callable] = (),
        callbacks: Sequence = (),
        scale: ScaleSection | None = None,
        sampler=None,
    ):
        self.fields = data_fields(train_data)
        encoded = encoded_fields(self.fields)
        if views is not None and not isinstance(views, dict):
            views = {encoded[0]: views}
        self.views = dict(views or {})
        if isinstance(objectives, nn.Module):
            objectives = [Objective(objectives)]
        self.objectives = list(objectives)
        for objective in self.objectives:
            objective.bind(encoded, [f for f in self.fields if f in RAW_FIELDS])
            objective.loss.to(device)
        self.loss = self.objectives[0].loss if len(self.objectives) == 1 else nn.ModuleList(
            [o.loss for o in self.objectives])
        self.model, self.train_data = model.to(device), train_data
        self.towers = isinstance(model, Towers)
        self.settings, self.optim, self.run_dir, self.device = train, optim, run_dir, device
        self.seed, self.bf16 = seed, bf16
        self.evaluators, self.callbacks = list(evaluators), list(callbacks)
        self.rank, self.world_size = distributed.rank(), distributed.world_size()
        self.sampler = sampler or EpochSampler(len(train_data), train.batch_size, seed, self.rank,
                                               self.world_size)
        steps_per_epoch = self.sampler.batches_per_epoch // optim.accumulate
        if steps_per_epoch == 0:
            raise ValueError(
                f"optim.accumulate = {optim.accumulate}: more micro-batches than one epoch holds "
                f"({self.sampler.batches_per_epoch})"
            )
        self.total_steps = train.max_steps or train.epochs * steps_per_epoch
        self.wrapped = self.model
        if self.world_size > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.wrapped = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.scaling = None
        if scale is not None and (scale.chunk_size or scale.momentum is not None or scale.queue_size
                                  or scale.predictor_hidden):
            if len(self.objectives) != 1 or encoded != ["anchor"]:
                raise ValueError(f"scale: {scale.requested} need one objective over the one field 'anchor' "
                                 f"(got {len(self.objectives)} objective(s), fields {encoded})")
            dim = output_dim(self.model, self.views.get("anchor"), train_data, device) \
                if scale.queue_size or scale.predictor_hidden else None
            self.scaling = ScaleStep(
                scale,
                self.model,
                self.wrapped,
                self.loss,
                lambda outputs, labels: total_loss(self.objectives, {"anchor": outputs}, self._raw),
                self._autocast,
                out_dim=dim,
                total_steps=self.total_steps,
                world_size=self.world_size,
            )
        parameters = [  # the predictor's come last, so optimizer states of other runs keep their order
            p for p in list(self.model.parameters()) + list(self.loss.parameters()) if p.requires_grad
        ] + (self.scaling.trainable_parameters() if self.scaling is not None else [])
        self.parameters = parameters
        self.optimizer = build_optimizer(parameter_groups(self.model, self.loss, parameters), optim)
        self.step, self._save_now, self._raw = 0, False, {}
        self.best = BestTracker(train.best_metric, train.best_mode, train.early_stop_patience)

    # ----- state -------------------------------------------------------------------------------
    @property
    def stop_reason(self) -> str | None:
        return self.best.stop_reason

    def trainer_state(self) -> dict:
        return {"best": self.best.state(), "seed": self.seed, "total_steps": self.total_steps}

    def state_modules(self) -> nn.ModuleDict:
        """What a checkpoint holds besides optimizer and RNG: model, loss, momentum encoder, queue."""
        extra = self.scaling.state_modules() if self.scaling is not None else {}
        return nn.ModuleDict({"model": self.model, "loss": self.loss, **extra})

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def save(self) -> None:
        if distributed.is_main():
            save_checkpoint(
                self.run_dir.checkpoints,
                self.step,
                self.state_modules(),
                self.optimizer,
                self.trainer_state(),
            )
            protect = {self.best.step} if self.best.step is not None else set()
            prune_checkpoints(self.run_dir.checkpoints, self.settings.keep_last, protect)
        distributed.barrier()

    def resume(self) -> bool:
        """Load the latest complete checkpoint of the run directory, if any."""
        if not list_checkpoints(self.run_dir.checkpoints):
            return False
        tensors, meta = load_checkpoint(self.run_dir.checkpoints)
        self.state_modules().load_state_dict(model_state(tensors))
        self.optimizer.load_state_dict(unpack_optimizer(tensors, meta["optimizer"]))
        restore_rng(tensors)
        self.step = meta["step"]
        self.best.load(meta["state"]["best"])
        if distributed.is_main():
            self.run_dir.truncate_metrics(self.step)
        return True

    def load_model_weights(self, step: int) -> None:
        """Put the model weights of checkpoint ``step`` (e.g. the best one) into the model."""
        tensors, _ = load_checkpoint(self.run_dir.checkpoints, step)
        state = model_state(tensors)
        self.model.load_state_dict({k[len("model."):]: v for k, v in state.items() if k.startswith("model.")})

    # ----- one step --------------------------------------------------------------------------
    def train_step(self) -> float:
        lr = learning_rate(
            self.step,
            peak=self.optim.lr,
            total_steps=self.total_steps,
            warmup_steps=self.optim.warmup_steps,
            schedule=self.optim.schedule,
            min_ratio=self.optim.min_lr_ratio,
        )
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"] if "lr_scale" in group else lr
        self.optimizer.zero_grad(set_to_none=True)
        self.model.train()
        total = 0.0
        accumulate = self.optim.accumulate
        for micro in range(accumulate):
            number = self.step * accumulate + micro
            indices = self.sampler.indices(number)
            batch = self.train_data.batch(indices)
            torch.manual_seed(derived_seed(self.seed, number, self.rank, 3))  # dropout & co.
            sync = self.world_size == 1 or micro == accumulate - 1
            no_sync = contextlib.nullcontext() if sync else self.wrapped.no_sync()
            self._raw = {f: to_device(v, self.device) for f, v in batch.items() if f in RAW_FIELDS}
            with no_sync, self._autocast():
                inputs = view_batches(batch, self.fields, self.views, self.device, self.seed, number,
                                      self.rank)
                if self.scaling is None:
                    outputs = encode(self.wrapped, inputs, self.towers)
                    loss = total_loss(self.objectives, outputs, self._raw) / accumulate
            if self.scaling is not None:  # forward, loss and backward; outside the autocast above
                with contextlib.nullcontext() if sync else self.wrapped.no_sync():
                    ids = to_device(indices, self.device)
                    loss = self.scaling.micro_step(inputs["anchor"], self._raw.get("label"), ids, accumulate)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"loss is {loss.item()} at step {self.step}; lower optim.lr or enable optim.grad_clip"
                )
            if self.scaling is None:
                loss.backward()
            total += loss.item()
        average_loss_gradients(self.loss)
        if self.scaling is not None:
            self.scaling.average_gradients()
        grad_norm = None
        if self.optim.grad_clip > 0:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.parameters, self.optim.grad_clip))
        self.optimizer.step()
        if self.scaling is not None:
            self.scaling.after_optimizer_step(self.model)
        self.step += 1
        self.last_logs = {"lr": lr, "grad_norm": grad_norm}
        return total

    # ----- evaluation ------------------------------------------------------------------------
    def embed_function(self) -> Callable:
        return embedding_function(self.model, self.device, self.bf16)

    def evaluate_full(self, evaluator: Callable) -> dict[str, float]:
        """One evaluator with all of its metrics, on the current weights."""
        return evaluator(self.embed_function())

    def evaluate(self) -> dict[str, float]:
        embed = self.embed_function()
        metrics: dict[str, float] = {}
        for evaluator in self.evaluators:
            metrics.update(evaluator(embed))
        return metrics

    def _after_eval(self, metrics: dict) -> None:
        if self.best.update(metrics, self.step):
            self._save_now = True  # the best step always gets a checkpoint
            if distributed.is_main():
                record = {"step": self.step, "metric": self.best.metric, "value": self.best.value}
                self.run_dir.write_json(self.run_dir.best, record)

    # ----- loop ------------------------------------------------------------------------------
    def fit(self) -> dict[str, float]:
        """Train to ``total_steps`` (or an early stop); returns the last evaluation's metrics."""
        main = distributed.is_main()
        callbacks = self.callbacks if main else []
        for callback in callbacks:
            callback.on_start(self, self.step, self.total_steps)
        settings, metrics, start = self.settings, {}, time.perf_counter()
        while self.step < self.total_steps and self.stop_reason is None:
            loss = self.train_step()
            logs = {
                "kind": "train",
                "step": self.step,
                "loss": loss,
                "lr": self.last_logs["lr"],
                "epoch": self.step * self.optim.accumulate / self.sampler.batches_per_epoch,
                "seconds": round(time.perf_counter() - start, 3),
            }
            if self.last_logs["grad_norm"] is not None:
                logs["grad_norm"] = self.last_logs["grad_norm"]
            logs.update(learned_temperatures(self.loss))
            if main and (self.step % settings.log_every == 0 or self.step == self.total_steps):
                self.run_dir.append_metrics(logs)
            for callback in callbacks:
                callback.on_step_end(self, self.step, logs)
            last = self.step == self.total_steps
            if self.evaluators and ((settings.eval_every and self.step % settings.eval_every == 0) or last):
                metrics = self.evaluate() if main else {}
                metrics = distributed.broadcast_object(metrics)
                if main:
                    self.run_dir.append_metrics({"kind": "eval", "step": self.step, **metrics})
                for callback in callbacks:
                    callback.on_eval(self, self.step, metrics)
                self._after_eval(metrics)
            if self.step % settings.checkpoint_every == 0 or last or self.stop_reason or self._save_now:
                self.save()
                self._save_now = False
        if self.stop_reason and main:
            self.run_dir.append_metrics({"kind": "event", "step": self.step, "event": self.stop_reason})
        for callback in callbacks:
            callback.on_end(self, self.step)
        if not metrics and self.evaluators and main and self.step > 0:
            metrics = self.evaluate()
        return {k: v for k, v in metrics.items() if not (isinstance(v, float) and math.isnan(v))}


def parameter_groups(model: nn.Module, loss: nn.Module, parameters: list) -> list:
    """One group of every trainable parameter, or, when a tower has an ``lr_scale`` other than 1,
    one group per tower (its learning rate = the schedule's times ``lr_scale``) and one for the rest."""
    towers = getattr(model, "towers", None)
    scales = {name: getattr(tower, "lr_scale", 1.0) for name, tower in (towers or {}).items()}
    if all(scale == 1.0 for scale in scales.values()):
        return parameters
    groups, seen = [], set()
    for name, tower in towers.items():
        params = [p for p in tower.parameters() if p.requires_grad and id(p) not in seen]
        seen |= {id(p) for p in params}
        if params:
            groups.append({"params": params, "lr_scale": scales[name]})
    rest = [p for p in parameters if id(p) not in seen]
    if rest:
        groups.append({"params": rest, "lr_scale": 1.0})
    return groups


def learned_temperatures(loss: nn.Module) -> dict[str, float]:
    """The current value of each learnable temperature of the loss(es): ``temperature`` for one,
    ``temperature/<module path>`` for several (fixed temperatures are not logged)."""
    found = {name: module.value for name, module in loss.named_modules()
             if getattr(module, "learnable", False) and hasattr(module, "log_temperature")}
    if len(found) == 1:
        return {"temperature": next(iter(found.values()))}
    return {f"temperature/{name}": value for name, value in found.items()}
