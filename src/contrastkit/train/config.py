"""The typed run configuration: TOML in, validated sections out, before any work starts.

Each section is a pydantic model that forbids unknown keys; component sections (``views``,
``encoder``, ``head``, ``loss``, ``data``) name a registered component and pass their other keys to
it, and the recipe builder checks those keys against the component's signature. Every error is a
:class:`ConfigError` whose message names the key, the value and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PositiveInt = Annotated[int, Field(gt=0, strict=True)]
NonNegativeInt = Annotated[int, Field(ge=0, strict=True)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ConfigError(ValueError):
    """A configuration problem; the message names the key, the value and what was expected."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class Component(BaseModel):
    """A registered component: ``name`` plus keyword arguments for its constructor (checked
    against the constructor's signature when the recipe is built)."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(description="registered component name (see `contrastkit recipes --components`)")

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class RunSection(Section):
    name: str | None = Field(None, description="run name; defaults to the recipe's file name")
    description: str = Field("", description="one line shown by `contrastkit recipes`")
    seed: NonNegativeInt = Field(0, description="seed of data order, views and initialisation")
    device: str = Field("auto", description="'auto' (CUDA when present, else CPU), 'cpu', 'cuda', 'cuda:N'")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="'auto' = bf16 autocast on CUDA, fp32 on CPU"
    )
    output_dir: str = Field("runs", description="parent folder of run directories")
    deterministic: bool = Field(True, description="deterministic algorithms (bitwise resume on CPU)")
    threads: PositiveInt | None = Field(None, description="torch CPU threads (default: torch's choice)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        # the run folder is output_dir/<name>-<time>: a separator or .. would put it elsewhere
        if value is not None and (not value.strip() or value in (".", "..")
                                  or any(c in value for c in "/\\\0\n\r")):
            raise ValueError("expected a plain name without path separators (/ or \\), "
                             "line breaks or '..'")
        return value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        ok = value in ("auto", "cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit())
        if not ok:
            raise ValueError("expected 'auto', 'cpu', 'cuda' or 'cuda:N'")
        return value


class DataSection(Component):
    name: str = Field("digits", description="registered data source (digits, idx, npz, image_folder, ...)")
    path: str | None = Field(None, description="file or folder the source reads (must exist)")
    test_fraction: float = Field(0.25, gt=0, lt=1, description="held-out share for the final test table")
    validation_fraction: float = Field(
        0.0, ge=0, lt=1, description="share for validation (best checkpoint, early stop), taken from training"
    )
    validation_path: str | None = Field(None, description="a file of validation rows (instead of a share)")
    test_path: str | None = Field(None, description="a file of test rows (instead of test_fraction)")
    max_samples: PositiveInt | None = Field(None, description="use only the first N samples")

    @field_validator("path", "validation_path", "test_path")
    @classmethod
    def _exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().exists():
            raise ValueError("expected an existing file or folder; this path does not exist")
        return value

    @model_validator(mode="after")
    def _shares(self):
        test = 0.0 if self.test_path else self.test_fraction
        if self.validation_fraction + test >= 1:
            raise ValueError(f"validation_fraction + test_fraction = {self.validation_fraction + test}: "
                             "expected < 1 (something must be left to train on)")
        return self

    @property
    def has_validation(self) -> bool:
        """A validation share, a validation file, or a source's own labelled validation rows
        (``validation_rows``, see :func:`~contrastkit.recipes.splits.load_splits`)."""
        own = self.options.get("validation_rows")
        return self.validation_fraction > 0 or self.validation_path is not None or bool(own)


class TowerSection(Section):
    """``[towers.NAME]``: a named tower (encoder + optional head) and the fields it encodes."""

    fields: list[str] = Field(description="fields this tower encodes, e.g. [\"image\"]")
    encoder: Component = Field(description="registered encoder + its keys, e.g. {name = \"small_cnn\"}")
    head: Component | None = Field(None, description="optional projection head")
    lr: PositiveFloat | None = Field(None, description="this tower's peak learning rate (default optim.lr)")
    frozen: bool = Field(False, description="keep this tower's weights fixed (a pretrained tower)")

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("expected at least one field; a tower no field uses is never trained")
        return value


class OptimSection(Section):
    name: Literal["adamw", "adam", "sgd"] = Field("adamw", description="optimizer")
    lr: PositiveFloat = Field(1e-3, description="peak learning rate")
    weight_decay: NonNegativeFloat = Field(1e-4, description="decoupled (adamw) or L2 weight decay")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam betas")
    schedule: Literal["cosine", "constant"] = Field("cosine", description="LR schedule after warm-up")
    warmup_steps: NonNegativeInt = Field(0, description="linear warm-up steps")
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="final LR as a fraction of lr (cosine)")
    grad_clip: NonNegativeFloat = Field(0.0, description="max gradient norm; 0 disables clipping")
    accumulate: PositiveInt = Field(1, description="micro-batches per optimizer step")

    @field_validator("betas")
    @classmethod
    def _betas(cls, value):
        if not all(0 <= b < 1 for b in value):
            raise ValueError("expected two values in [0, 1)")
        return value


class TrainSection(Section):
    batch_size: PositiveInt = Field(256, description="samples per micro-batch and process")
    epochs: PositiveInt = Field(10, description="passes over the training split")
    max_steps: PositiveInt | None = Field(None, description="stop after this many optimizer steps")
    log_every: PositiveInt = Field(10, description="steps between metric rows")
    eval_every: NonNegativeInt = Field(0, description="steps between evaluations; 0 = only at the end")
    checkpoint_every: PositiveInt = Field(50, description="steps between checkpoints")
    keep_last: PositiveInt = Field(2, description="checkpoints kept (the best one is kept as well)")
    best_metric: str | None = Field(None, description="metric that selects the best checkpoint")
    best_mode: Literal["max", "min"] = Field("max", description="whether best_metric is better high or low")
    early_stop_patience: NonNegativeInt = Field(
        0, description="evaluations without improvement of best_metric before stopping; 0 disables early stop"
    )
    report: bool = Field(True, description="write the HTML/PNG report at the end of training")
    no_duplicates: bool = Field(
        False, description="keep rows with an equal anchor/positive text or group out of one batch"
    )


class EvalSection(Section):
    metrics: list[Literal["knn", "linear_probe", "alignment", "uniformity", "effective_rank"]] = Field(
        ["knn", "linear_probe", "alignment", "uniformity", "effective_rank"], description="metrics computed"
    )
    knn_k: PositiveInt = Field(20, description="neighbours of the kNN classifier")
    max_samples: PositiveInt = Field(2000, description="evaluation samples (first N of each split)")
    baselines: bool = Field(True, description="also score raw inputs and the untrained encoder")
    tasks: list[Component] | None = Field(
        None, description="[[eval.tasks]]: evaluators on your files (name = retrieval | sts | classification)"
    )


class ScaleSection(Section):
    chunk_size: PositiveInt | None = Field(
        None, description="GradCache chunk size (cached encoder gradients)"
    )
    gather_distributed: bool = Field(False, description="score against negatives from every process")
    momentum: float | None = Field(None, gt=0, lt=1, description="momentum-encoder EMA coefficient")
    queue_size: PositiveInt | None = Field(None, description="MoCo queue of past keys")
    momentum_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="momentum schedule: constant, or cosine from `momentum` to 1 over the run")
    predictor_hidden: PositiveInt | None = Field(
        None, description="BYOL (with momentum) / SimSiam predictor on the online branch: its hidden width")

    @property
    def requested(self) -> list[str]:
        return [k for k, v in self.model_dump().items()
                if v not in (None, False) and k != "momentum_schedule"]


class Config(Section):
    run: RunSection = RunSection()
    data: DataSection = DataSection()
    views: Component = Component(name="image")
    encoder: Component = Component(name="small_cnn")
    head: Component | None = None
    loss: Component = Component(name="NTXent")
    objectives: list[Component] | None = Field(
        None, description="[[objectives]]: several weighted losses (name, weight, inputs, options)"
    )
    towers: dict[str, TowerSection] | None = Field(
        None, description="[towers.NAME]: named towers; default one shared tower from [encoder]/[head]"
    )
    optim: OptimSection = OptimSection()
    train: TrainSection = TrainSection()
    eval: EvalSection = EvalSection()
    scale: ScaleSection = ScaleSection()

    @model_validator(mode="after")
    def _best_metric(self):
        if self.train.early_stop_patience and not self.train.best_metric:
            raise ValueError("train.early_stop_patience needs train.best_metric (the metric to watch)")
        if self.train.best_metric and not self.data.has_validation:
            raise ValueError(f"train.best_metric = {self.train.best_metric!r}: selection needs a validation "
                             "split (set data.validation_fraction, e.g. 0.1, data.validation_path, or "
                             "data.validation_rows where the source has labelled ones); "
                             "the test split is only read for the final table")
        if self.objectives is not None and "loss" in self.model_fields_set:
            raise ValueError("give either [loss] (one objective) or [[objectives]], not both")
        if self.objectives == []:
            raise ValueError("objectives: expected at least one [[objectives]] entry")
        if "fields" in self.data.options and "name" not in self.data.model_fields_set:
            self.data.name = "file"  # [data.fields] maps the columns of data.path to fields
        return self


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def format_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "config"
        if item["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key (value {_describe(item['input'])})")
        elif item["type"] == "missing":
            lines.append(f"{key}: required key is missing")
        else:
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"{key} = {_describe(item['input'])}: {message}")
    return "; ".join(lines)


def validate_config(data: dict) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"invalid config: {format_errors(error)}") from None


def parse_toml(text: str, source: str = "config") -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: not valid TOML ({error})") from None


def parse_override(item: str) -> tuple[list[str], Any]:
    """``section.key=value`` -> (``["section", "key"]``, value); the value is read as a TOML value
    (``64``, ``1e-3``, ``true``, ``[0.5, 1.0]``, ``"text"``) and otherwise kept as a plain string."""
    key, sep, raw = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts) or len(parts) < 2:
        raise ConfigError(f"--set {item!r}: expected section.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return parts, value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Return a copy of ``data`` with each ``section.key=value`` override applied."""
    import copy

    data = copy.deepcopy(data)
    for item in overrides:
        parts, value = parse_override(item)
        node = data
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {part} is a value, not a section")
            node = child
        node[parts[-1]] = value
    return data


def config_reference() -> str:
    """Every section and key with its type, default and meaning (``contrastkit recipes --keys``)."""
    lines = []
    for section, field in Config.model_fields.items():
        model = field.annotation if isinstance(field.annotation, type) else Component
        if section == "towers":
            lines.append("[towers.NAME]  (one per tower; default: one shared tower of [encoder], [head])")
            model = TowerSection
        elif section == "objectives":
            lines.append("[[objectives]]  (instead of [loss]: several weighted losses)")
            lines.append("  name (str, required): a loss of contrastkit.losses or package.module:Loss")
            lines.append("  weight (float, default 1.0), inputs (parameter -> field, see docs/training.md)")
            lines.append("  (any other key is passed to the loss)")
            continue
        else:
            lines.append(f"[{section}]")
        if section in ("views", "encoder", "head", "loss") or model is DataSection:
            lines.append("  (any other key is passed to the named component; see its docstring)")
        for key, info in model.model_fields.items():
            kind = getattr(info.annotation, "__name__", None) or str(info.annotation).replace("typing.", "")
            default = "required" if info.is_required() else repr(info.default)
            lines.append(f"  {key} ({kind}, default {default}): {info.description or ''}")
    return "\n".join(lines)
