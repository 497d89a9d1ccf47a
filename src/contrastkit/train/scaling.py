"""The ``[scale]`` config table in the trainer: GradCache, gathered negatives, MoCo, BYOL / SimSiam.

* ``chunk_size``: each micro-batch goes through :class:`~contrastkit.scale.GradCache` (every view a
  group of the one model), so memory is one chunk's graph however large ``train.batch_size`` is.
  Gradients equal plain backprop for encoders without batch statistics; BatchNorm sees chunks.
* ``gather_distributed``: the loss is built with ``gather_distributed=True`` (see
  :mod:`contrastkit.scale.distributed`); nothing else changes here.
* ``momentum`` / ``queue_size``: MoCo (He et al., 2020, arXiv:1911.05722). The first view gives the
  queries through the model, the second the keys, through a :class:`~contrastkit.scale.MomentumEncoder`
  when ``momentum`` is set (else through the model, with gradient). Queued keys are extra
  ``negatives`` with their sample ids, so a sample's own old keys are excluded; the batch's keys
  are pushed after the loss. Momentum encoder and queue are checkpointed with the model.
* ``predictor_hidden``: BYOL (Grill et al., 2020, arXiv:2006.07733, Sec. 3.1) with ``momentum``, SimSiam
  (Chen & He, 2021, arXiv:2011.10566, Eq. 2) without. Both views go through the model and a
  :class:`~contrastkit.scale.Predictor` (``predictor_hidden`` wide, output as wide as the model's);
  the targets are both views through the momentum encoder (BYOL) or the model's own outputs
  detached (SimSiam), and the loss is symmetric, ``(loss(p1, z2) + loss(p2, z1)) / 2`` (e.g.
  :class:`~contrastkit.losses.NegativeCosine`; BYOL's summed ``2 - 2 cos`` terms are ``4 + 4 x`` this). The
  predictor trains with the model and is checkpointed with it; the momentum encoder copies encoder
  + head only, as BYOL's target network.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import nn

from ..scale import GradCache, MomentumEncoder, Predictor, Queue
from .config import ScaleSection
from .embedding import to_device


def average_loss_gradients(loss: nn.Module) -> None:
    """DDP averages the model's gradients only: average the loss's own (a learnable temperature)
    over the ranks too, so every rank takes the same step."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    for parameter in loss.parameters():
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)
            parameter.grad.div_(dist.get_world_size())


def check_moco_loss(loss: nn.Module, inputs: dict | None = None) -> str | None:
    """Why ``loss`` (called with ``inputs``, see :mod:`.objectives`) cannot take MoCo's queries,
    keys and queue (``None`` when it can)."""
    declared = inputs if inputs is not None else getattr(loss, "field_inputs", None)
    if declared is not None:
        return f"needs a loss called with the views in order (queries, keys), got inputs {declared!r}"
    accepted = inspect.signature(loss.forward).parameters
    missing = [name for name in ("negatives", "ids", "negative_ids") if name not in accepted]
    if missing:
        return f"needs a loss taking {missing} (e.g. InfoNCE), got {type(loss).__name__}"
    return None


def check_predictor_loss(loss: nn.Module, inputs: dict | None = None) -> str | None:
    """Why ``loss`` cannot be called as ``loss(prediction, target)`` by the BYOL / SimSiam step
    (``None`` when it can)."""
    declared = inputs if inputs is not None else getattr(loss, "field_inputs", None)
    if declared is not None:
        return f"needs a loss called with (prediction, target), got inputs {declared!r}"
    accepted = [p for p in inspect.signature(loss.forward).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    if len(accepted) < 2 and not any(p.kind == p.VAR_POSITIONAL for p in accepted):
        return f"needs a loss taking (prediction, target), got {type(loss).__name__}"
    return None


def output_dim(model: nn.Module, views: Callable | None, train_data, device: torch.device) -> int:
    """Width of the model's output, from one forward pass of two samples in eval mode."""
    inputs = train_data.batch(torch.arange(min(2, len(train_data))))["anchor"]
    views = views or (lambda x, generator: [x])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            first = views(to_device(inputs, device), torch.Generator().manual_seed(0))[0]
            return int(model(first).shape[-1])
    finally:
        model.train(was_training)


class ScaleStep:
    """One micro-batch (forward, loss, backward) with the ``[scale]`` features switched on.

    Args:
        scale: the validated ``[scale]`` table.
        model: the online model (unwrapped); ``encoder`` is what runs it (the DDP wrapper or it).
        loss: the loss module; ``call_loss(outputs, labels)`` calls the objective as the trainer does.
        autocast: factory of the trainer's mixed-precision context.
        out_dim: width of the model's output (for the queue and the predictor).
        total_steps: optimizer steps of the run (for the cosine momentum schedule).
        world_size: processes; with more than one the queue holds every rank's keys.
    """

    def __init__(self, scale: ScaleSection, model: nn.Module, encoder: nn.Module, loss: nn.Module,
                 call_loss: Callable, autocast: Callable[[], contextlib.AbstractContextManager], *,
                 out_dim: int | None, total_steps: int, world_size: int = 1):
        self.encoder, self.loss, self.call_loss, self.autocast = encoder, loss, call_loss, autocast
        self.chunk_size = scale.chunk_size
        self.moco = scale.momentum is not None or scale.queue_size is not None
        device = next(model.parameters()).device
        self.predictor = None if scale.predictor_hidden is None else Predictor(
            out_dim, scale.predictor_hidden).to(device)
        self.momentum = None if scale.momentum is None else MomentumEncoder(
            model, scale.momentum, schedule=scale.momentum_schedule,
            total_steps=total_steps if scale.momentum_schedule == "cosine" else None)
        self.queue = None if scale.queue_size is None else Queue(
            scale.queue_size, out_dim, gather_distributed=world_size > 1).to(device)

    def state_modules(self) -> dict[str, nn.Module]:
        """Modules whose state goes into checkpoints next to the model and the loss."""
        return {name: module for name, module in (("momentum", self.momentum), ("queue", self.queue),
                                                  ("predictor", self.predictor)) if module is not None}

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters the optimizer updates besides the model's and the loss's (the predictor's)."""
        return [] if self.predictor is None else list(self.predictor.parameters())

    def micro_step(self, views: list, labels, ids: torch.Tensor, divide: int) -> torch.Tensor:
        """Forward, loss and backward of one micro-batch; returns the detached loss / ``divide``."""
        if self.predictor is not None:
            return self._predictor_step(views, divide)
        if not self.moco:
            def loss_fn(*outputs):
                return self.call_loss([z.float() for z in outputs], labels) / divide
            return self._run(loss_fn, list(views))
        if len(views) != 2:
            raise ValueError(f"scale.momentum / scale.queue_size: MoCo needs 2 views, the views give "
                             f"{len(views)}")
        extra = {"ids": ids}
        if self.queue is not None and len(self.queue):
            negatives, negative_ids = self.queue.negatives()
            extra.update(negatives=negatives.float(), negative_ids=negative_ids)
        keys = None
        if self.momentum is not None:
            with self.autocast():
                keys = self.momentum(views[1]).float()
        pushed = []

        def moco_loss(queries, key=None):
            key = keys if key is None else key
            pushed.append(key.detach())
            return self.loss(queries.float(), key.float(), **extra) / divide

        loss = self._run(moco_loss, [views[0]] if keys is not None else [views[0], views[1]])
        if self.queue is not None:
            self.queue.push(pushed[-1], ids)
        return loss

    def _predictor_step(self, views: list, divide: int) -> torch.Tensor:
        """BYOL / SimSiam: ``(loss(q(f(v1)), t2) + loss(q(f(v2)), t1)) / 2``, each view through the
        model and the predictor on its own (BatchNorm statistics per view, as BYOL's code)."""
        if len(views) != 2:
            raise ValueError(f"scale.predictor_hidden: BYOL / SimSiam need 2 views, the views give "
                             f"{len(views)}")
        targets = None
        if self.momentum is not None:
            with self.autocast():
                targets = [self.momentum(view).float() for view in views]

        def byol_loss(first, second):
            first, second = first.float(), second.float()
            t1, t2 = targets if targets is not None else (first.detach(), second.detach())
            p1, p2 = self.predictor(first), self.predictor(second)
            return (self.loss(p1, t2) + self.loss(p2, t1)) / (2 * divide)

        return self._run(byol_loss, [views[0], views[1]])

    def _run(self, loss_fn: Callable, groups: list) -> torch.Tensor:
        if self.chunk_size is not None:
            return GradCache(self.encoder, loss_fn, self.chunk_size, autocast=self.autocast)(*groups)
        with self.autocast():
            outputs = [self.encoder(group) for group in groups]
        loss = loss_fn(*outputs)
        if not torch.isfinite(loss):
            return loss.detach()  # the trainer reports it before any update
        loss.backward()
        return loss.detach()

    def average_gradients(self) -> None:
        """The predictor is not inside the DDP wrapper: average its gradients over the ranks."""
        if self.predictor is not None:
            average_loss_gradients(self.predictor)

    def after_optimizer_step(self, model: nn.Module) -> None:
        if self.momentum is not None:
            self.momentum.update(model)
