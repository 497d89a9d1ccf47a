"""Build a run's objects from a validated :class:`~contrastkit.train.config.Config`.

Every component is constructed here, before any data is read or step taken, so a bad key or
value fails in a second with its config key named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as default

import torch
from torch import nn

from .. import losses
from ..encoders import ContrastiveModel
from ..encoders.text_cache import EmbeddingCache
from ..encoders.towers import Towers
from ..train.config import Component, Config, ConfigError
from ..train.objectives import Objective
from ..train.scaling import check_moco_loss, check_predictor_loss
from . import components  # noqa: F401  (registers the built-in components)
from .graph import check_graph_config, graph_objectives, is_graph_config
from .registry import DATA_SOURCES, ENCODERS, HEADS, VIEWS, build_call, import_component, is_import_path

OBJECTIVE_KEYS = ("inputs", "weight")  # keys of [loss] / [[objectives]] that are not the loss's own


@dataclass
class Components:
    views: object
    objectives: list[Objective]
    view_fields: list[str] | None = None  # fields the views apply to (None: the first encoded field)
    model: nn.Module | None = None
    tasks: list = default(default_factory=list)  # evaluators of [[eval.tasks]]

    @property
    def loss(self) -> nn.Module:
        """The first objective's loss (the only one of a single-objective run)."""
        return self.objectives[0].loss


def check_scale(config: Config, objectives: list[Objective]) -> None:
    """``[scale]`` keys the built objectives cannot serve (see :mod:`contrastkit.train.scaling`)."""
    scale = config.scale
    if scale.requested and len(objectives) != 1:
        raise ConfigError(f"scale: {scale.requested} need a single objective, got {len(objectives)}")
    if scale.predictor_hidden is not None:  # BYOL / SimSiam: no negatives, so no queue
        if scale.queue_size is not None:
            raise ConfigError(f"scale.queue_size = {scale.queue_size!r}: BYOL / SimSiam "
                              "(scale.predictor_hidden) use no negatives; drop the queue")
        problem = check_predictor_loss(objectives[0].loss, objectives[0].inputs)
        if problem:
            raise ConfigError(f"scale.predictor_hidden = {scale.predictor_hidden!r}: BYOL / SimSiam "
                              f"{problem}")
        return
    for key in ("momentum", "queue_size"):
        value = getattr(scale, key)
        problem = check_moco_loss(objectives[0].loss, objectives[0].inputs) if value is not None else None
        if problem:
            raise ConfigError(f"scale.{key} = {value!r}: MoCo {problem}")


def build_objective(config: Config, section: Component, key: str) -> Objective:
    """One loss from ``section`` (``[loss]`` or an ``[[objectives]]`` entry named ``key`` in errors)."""
    options = section.options
    inputs, weight = options.pop("inputs", None), options.pop("weight", 1.0)
    if inputs is not None and not isinstance(inputs, dict):
        raise ConfigError(f"{key}.inputs = {inputs!r}: expected a table {{parameter = \"field\"}}, "
                          "e.g. inputs = {{ query = \"anchor\", key = \"positive\" }}")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
        raise ConfigError(f"{key}.weight = {weight!r}: expected a number > 0")
    temperature = options.get("temperature")
    if isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and \
            temperature > 100:  # flattens every softmax; tau <= 0 is the loss's own check
        raise ConfigError(f"{key}.temperature = {temperature!r}: expected a number in (0, 100]")
    if config.scale.gather_distributed:  # local anchors against every rank's candidates
        cls = getattr(losses, section.name, None)
        if isinstance(cls, type) and not getattr(cls, "supports_gather_distributed", False):
            raise ConfigError(
                f"scale.gather_distributed = true: loss {section.name!r} does not "
                "support gathered negatives yet"
            )
        options["gather_distributed"] = True
    cls = import_component(f"{key}.name", section.name) if is_import_path(section.name) \
        else getattr(losses, section.name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        if is_import_path(section.name):
            raise ConfigError(f"{key}.name = {section.name!r}: expected a torch.nn.Module class (a loss)")
        names = [n for n in losses.__all__ if isinstance(getattr(losses, n), type)]
        raise ConfigError(
            f"{key}.name = {section.name!r}: not a loss in contrastkit.losses; expected one of {names} "
            "or an import path package.module:Loss"
        )
    loss = build_call(cls, key, options)
    return Objective(loss, inputs, float(weight), key)


def build_objectives(config: Config) -> list[Objective]:
    if is_graph_config(config):  # BPR + lambda_1 contrast + lambda_2 L2 (see .graph)
        return graph_objectives(config)
    if config.objectives is None:
        return [build_objective(config, config.loss, "loss")]
    return [build_objective(config, section, f"objectives[{i}]")
            for i, section in enumerate(config.objectives)]


def build_components(config: Config) -> Components:
    if is_graph_config(config):
        check_graph_config(config)
    for tower in tower_sections(config).values():
        ENCODERS.check(tower.encoder.name, tower.encoder.options)
        if tower.head is not None:
            HEADS.check(tower.head.name, tower.head.options)
    DATA_SOURCES.check(config.data.name, config.data.options)
    objectives = build_objectives(config)
    check_scale(config, objectives)
    options = config.views.options
    view_fields = options.pop("fields", None)
    names = isinstance(view_fields, list) and all(isinstance(f, str) for f in view_fields)
    if view_fields is not None and not names:
        raise ConfigError(f"views.fields = {view_fields!r}: expected a list of field names")
    if view_fields is None and config.data.name == "file" and "views" not in config.model_fields_set:
        view_fields = []  # a fields file without [views]: every field encoded once
    views = VIEWS.build(config.views.name, options)
    from .eval_tasks import build_tasks

    return Components(views, objectives, view_fields, tasks=build_tasks(config.eval.tasks))


PRETRAINED_ENCODERS = ("text", "minilm")  # encoders that load weights (a Hugging Face folder)


def is_pretrained(config: Config) -> bool:
    """Whether a tower starts from pretrained weights: its baseline column is the "base model"."""
    return any(t.encoder.name in PRETRAINED_ENCODERS for t in tower_sections(config).values())


def tower_sections(config: Config) -> dict:
    """``[towers.NAME]``, or the one shared tower ``shared`` of ``[encoder]`` / ``[head]``."""
    if config.towers:
        return dict(config.towers)
    from ..train.config import TowerSection

    return {"shared": TowerSection(fields=["*"], encoder=config.encoder, head=config.head)}


def views_by_field(parts: Components, data) -> dict:
    """``{field: views}`` of the run: the configured fields, else the first encoded field."""
    from ..data.fields import data_fields, encoded_fields

    fields = data_fields(data)
    chosen = parts.view_fields if parts.view_fields is not None else encoded_fields(fields)[:1]
    for field in chosen:
        if field not in fields:
            raise ConfigError(f"views.fields: unknown field {field!r}; the data yields {list(fields)}")
    return {field: parts.views for field in chosen}


def load_data(config: Config):
    """``(train, test)`` splits of the configured data source (see :func:`.splits.load_splits`,
    which also gives the validation split)."""
    from .splits import load_splits

    splits = load_splits(config)
    return splits.train, splits.test


def bind_views(views, train_data) -> None:
    """Give views that depend on the training data (SCARF's marginals) that data, once it is read."""
    bind = getattr(views, "bind_data", None)
    if bind is not None:
        bind(train_data)


def input_context(data, field: str = "anchor") -> dict:
    own = getattr(data, "encoder_context", None)  # data that says what its encoder needs (graphs)
    if own is not None:
        return own()
    inputs = getattr(data, "inputs", None) if field == "anchor" else None
    if inputs is None:
        inputs = data.batch(torch.arange(min(2, len(data))))[field]
    if isinstance(inputs, torch.Tensor) and inputs.dim() == 4:
        return {
            "in_channels": int(inputs.shape[1]),
            "image_size": [int(s) for s in inputs.shape[2:]],
            "input_dim": int(math.prod(inputs.shape[1:])),
        }
    if isinstance(inputs, torch.Tensor):
        return {"input_dim": int(math.prod(inputs.shape[1:]))}
    return {}


def build_tower(tower, context: dict) -> ContrastiveModel:
    encoder = ENCODERS.build(tower.encoder.name, tower.encoder.options, context)
    head = None
    if tower.head is not None:
        width = getattr(encoder, "embedding_dim", None) or getattr(encoder, "dimension", None)
        head = HEADS.build(tower.head.name, tower.head.options, {"input_dim": width})
    return ContrastiveModel(encoder, head)


def build_model(config: Config, data) -> Towers:
    """The run's towers (each encoder + head), initialised from ``run.seed`` in config order.
    Every tower must encode a field the data yields, and every encoded field have one tower."""
    from ..data.fields import data_fields, encoded_fields

    torch.manual_seed(config.run.seed)
    fields = encoded_fields(data_fields(data))
    sections = tower_sections(config)
    towers, assign = {}, {}
    for name, section in sections.items():
        used = fields if section.fields == ["*"] else section.fields
        for field in used:
            if field not in fields:
                raise ConfigError(f"towers.{name}.fields: field {field!r} is not one the data yields "
                                  f"(encoded fields: {fields}); a tower no field uses is never trained")
            if field in assign:
                raise ConfigError(f"towers.{name}.fields: field {field!r} is encoded by tower "
                                  f"{assign[field]!r} already")
            assign[field] = name
        towers[name] = build_tower(section, input_context(data, used[0] if used else "anchor"))
        if section.frozen:  # no gradient, and eval mode while training (see Towers.train)
            towers[name].requires_grad_(False)
            towers[name].frozen = True
            towers[name].cache = EmbeddingCache()  # repeated captions: encoded once (fixed weights)
        if section.lr is not None:
            towers[name].lr_scale = section.lr / config.optim.lr
    missing = [f for f in fields if f not in assign and f != "negatives"]
    if missing:
        raise ConfigError(f"towers: field {missing[0]!r} has no tower; add it to some towers.NAME.fields")
    if "negatives" in fields and "negatives" not in assign:
        assign["negatives"] = assign.get("positive") or assign.get("anchor") or next(iter(towers))
    return Towers(towers, assign)


def input_description(data, field: str = "anchor") -> dict:
    """What the saved encoder of ``field`` expects, so ``embed`` and ``search`` can read new files."""
    context = input_context(data, field)
    if "image_size" in context:
        return {"kind": "image", "channels": context["in_channels"], "image_size": context["image_size"]}
    sample = getattr(data, "inputs", None) if field == "anchor" else None
    if sample is None:
        sample = data.batch(torch.arange(min(100, len(data))))[field]
    if isinstance(sample, list) and all(isinstance(t, str) for t in sample[:100]):
        return {"kind": "text"}
    return {"kind": "other"}


def no_duplicates_sampler(config: Config, data):
    """The ``train.no_duplicates`` sampler (keys: anchor / positive texts and the group), or ``None``."""
    if not config.train.no_duplicates:
        return None
    from ..train import distributed
    from ..train.batching import NoDuplicatesSampler

    fields = [f for f in ("anchor", "positive", "group") if f in data.fields]
    if not fields:
        raise ConfigError("train.no_duplicates: the data has no anchor, positive or group field")
    columns = data.batch(torch.arange(len(data)))
    keys = [{(f, _key(columns[f][i])) for f in fields} for i in range(len(data))]
    return NoDuplicatesSampler(keys, config.train.batch_size, config.run.seed, distributed.rank(),
                               distributed.world_size())


def _key(value):
    return value.item() if isinstance(value, torch.Tensor) else value
