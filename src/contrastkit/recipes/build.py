"""Build a run's objects from a validated :class:`~contrastkit.train.config.Config`.

Every component is constructed here, before any data is read or step taken, so a bad key or
value fails in a second with its config key named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .. import losses
from ..data import train_test_split
from ..encoders import ContrastiveModel
from ..train.config import Config, ConfigError
from ..train.scaling import check_moco_loss
from ..train.steps import LOSS_INPUTS
from . import components  # noqa: F401  (registers the built-in components)
from .registry import DATA_SOURCES, ENCODERS, HEADS, VIEWS, build_call

# how each loss is called with the V view outputs (default: loss(*views))
DEFAULT_LOSS_INPUTS = {
    "SupCon": "stacked+labels",
    "MultiViewInfoNCE": "stacked",
    "MVDHEL": "stacked",
    "PolyView": "stacked",
}


@dataclass
class Components:
    views: object
    loss: nn.Module
    loss_inputs: str
    model: nn.Module | None = None


def check_scale(config: Config, loss: nn.Module, loss_inputs: str) -> None:
    """``[scale]`` keys the built loss cannot serve (see :mod:`contrastkit.train.scaling`)."""
    scale = config.scale
    for key in ("momentum", "queue_size"):
        value = getattr(scale, key)
        problem = check_moco_loss(loss, loss_inputs) if value is not None else None
        if problem:
            raise ConfigError(f"scale.{key} = {value!r}: MoCo {problem}")


def build_loss(config: Config) -> tuple[nn.Module, str]:
    options = config.loss.options
    if config.loss.name == "LightGCLContrastive":  # weights of the graph objective (see .graph)
        from .graph import GRAPH_LOSS_KEYS

        for key in GRAPH_LOSS_KEYS:
            options.pop(key, None)
    if config.scale.gather_distributed:  # local anchors against every rank's candidates
        cls = getattr(losses, config.loss.name, None)
        if isinstance(cls, type) and not getattr(cls, "supports_gather_distributed", False):
            raise ConfigError(
                f"scale.gather_distributed = true: loss {config.loss.name!r} does not "
                "support gathered negatives yet"
            )
        options["gather_distributed"] = True
    loss_inputs = options.pop("inputs", DEFAULT_LOSS_INPUTS.get(config.loss.name, "views"))
    if loss_inputs not in LOSS_INPUTS:
        raise ConfigError(f"loss.inputs = {loss_inputs!r}: expected one of {list(LOSS_INPUTS)}")
    cls = getattr(losses, config.loss.name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        names = [n for n in losses.__all__ if isinstance(getattr(losses, n), type)]
        raise ConfigError(
            f"loss.name = {config.loss.name!r}: not a loss in contrastkit.losses; expected one of {names}"
        )
    return build_call(cls, "loss", options), loss_inputs


def build_components(config: Config) -> Components:
    from .graph import check_graph_config, is_graph_config

    if is_graph_config(config):
        check_graph_config(config)
    ENCODERS.check(config.encoder.name, config.encoder.options)
    if config.head is not None:
        HEADS.check(config.head.name, config.head.options)
    DATA_SOURCES.check(config.data.name, config.data.options)
    loss, loss_inputs = build_loss(config)
    check_scale(config, loss, loss_inputs)
    views = VIEWS.build(config.views.name, config.views.options)
    return Components(views, loss, loss_inputs)


def load_data(config: Config):
    """``(train, test)`` splits of the configured data source (first ``max_samples`` rows)."""
    options = dict(config.data.options)
    if config.data.path is not None:
        options["path"] = config.data.path
    data = DATA_SOURCES.build(config.data.name, options)
    if config.data.max_samples is not None and config.data.max_samples < len(data):
        data = data.subset(torch.arange(config.data.max_samples))
    train, test = train_test_split(data, config.data.test_fraction, config.run.seed)
    fit = getattr(type(train), "standardize_splits", None)  # tables: scaling from the train split only
    return fit(train, test) if fit is not None else (train, test)


def bind_views(views, train_data) -> None:
    """Give views that depend on the training data (SCARF's marginals) that data, once it is read."""
    bind = getattr(views, "bind_data", None)
    if bind is not None:
        bind(train_data)


def input_context(data) -> dict:
    inputs = data.inputs
    if isinstance(inputs, torch.Tensor) and inputs.dim() == 4:
        return {
            "in_channels": int(inputs.shape[1]),
            "image_size": [int(s) for s in inputs.shape[2:]],
            "input_dim": int(math.prod(inputs.shape[1:])),
        }
    if isinstance(inputs, torch.Tensor):
        return {"input_dim": int(math.prod(inputs.shape[1:]))}
    return {}


def build_model(config: Config, data) -> ContrastiveModel:
    """Encoder (+ head), initialised from ``run.seed``."""
    torch.manual_seed(config.run.seed)
    encoder = ENCODERS.build(config.encoder.name, config.encoder.options, input_context(data))
    head = None
    if config.head is not None:
        width = getattr(encoder, "embedding_dim", None) or getattr(encoder, "dimension", None)
        head = HEADS.build(config.head.name, config.head.options, {"input_dim": width})
    return ContrastiveModel(encoder, head)


def input_description(data) -> dict:
    """What the saved encoder expects, so ``embed`` and ``search`` can read new files for it."""
    context = input_context(data)
    if "image_size" in context:
        return {"kind": "image", "channels": context["in_channels"], "image_size": context["image_size"]}
    if isinstance(data.inputs, list) and all(isinstance(t, str) for t in data.inputs[:100]):
        return {"kind": "text"}
    return {"kind": "other"}
