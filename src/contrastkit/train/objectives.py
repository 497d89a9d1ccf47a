"""Objectives: a loss, the fields it is called with, and its weight; a run sums several.

How a loss is called from the encoded fields is declared, not string-coded: a mapping
``{forward parameter: field reference}``, from the objective's ``inputs`` in the config, else from
the loss class's ``field_inputs`` attribute (next to the loss), else the default below.

Field references:

``"anchor"``     the field's output: ``(N, d)``, or ``(N, V, d)`` when its views give V > 1 outputs;
               a raw field (``label``, ``group``, ``score``) is passed as the batch holds it.
``"anchor:1"``   view 1 of the field.
``"*"``          every output of every encoded field except ``negatives``, stacked ``(N, V, d)``.
``["a", "b"]``   the listed outputs stacked ``(N, 2, d)``.

Default (no declaration): the positional parameters take the outputs in order (each view of each
encoded field except ``negatives``: ``loss(*outputs)``); ``negatives`` is passed as the shared
negatives ``(M, d)`` of the whole batch and ``group`` as ``ids`` when the loss accepts them.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..data.fields import RAW_FIELDS


@dataclass
class Objective:
    """``loss`` called with ``inputs`` (``{parameter: field reference}``; ``None`` = default) times
    ``weight``. ``name`` names it in errors and metric rows."""

    loss: nn.Module
    inputs: dict | None = None
    weight: float = 1.0
    name: str = "loss"
    positional: list = field(default_factory=list)
    keywords: dict = field(default_factory=dict)

    def bind(self, encoded: list[str], raw: list[str]) -> None:
        """Check the references against the fields of the run (``encoded`` ones go through a tower,
        ``raw`` ones are passed as they are); an unknown field or parameter raises ``ValueError``
        naming the objective."""
        parameters = inspect.signature(self.loss.forward).parameters
        declared = self.inputs if self.inputs is not None else getattr(self.loss, "field_inputs", None)
        where = f"{self.name}.inputs"
        if declared is None:
            self.positional, self.keywords = [SEQUENCE], {}
            if "negatives" in encoded and "negatives" in parameters:
                self.keywords["negatives"] = "negatives"
            if "group" in raw and "ids" in parameters:
                self.keywords["ids"] = "group"
        else:
            if not isinstance(declared, dict) or not declared:
                raise ValueError(f"{where} = {declared!r}: expected a table {{parameter = field}}")
            unknown = [p for p in declared if p not in parameters]
            if unknown:
                raise ValueError(f"{where}.{unknown[0]}: {type(self.loss).__name__} has no parameter "
                                 f"{unknown[0]!r}; expected one of {list(parameters)}")
            self.positional, self.keywords = [], dict(declared)
        for parameter, reference in [*enumerate(self.positional), *self.keywords.items()]:
            for ref in reference if isinstance(reference, list) else [reference]:
                _check_reference(f"{where}.{parameter}", ref, encoded, raw)

    def __call__(self, outputs: dict[str, list[Tensor]], batch: dict) -> Tensor:
        if self.positional == [SEQUENCE]:
            args = [z for f, views in outputs.items() if f != "negatives" for z in views]
        else:
            args = [_resolve(r, outputs, batch) for r in self.positional]
        kwargs = {p: _resolve(r, outputs, batch) for p, r in self.keywords.items()
                  if not (r == "negatives" and "negatives" not in outputs)}  # a batch without negatives
        return self.loss(*args, **kwargs)


SEQUENCE = "..."  # the default positional arguments: every output in order


def _check_reference(key: str, ref, encoded: list[str], raw: list[str]) -> None:
    if ref in ("*", SEQUENCE):
        return
    if not isinstance(ref, str):
        raise ValueError(f"{key} = {ref!r}: expected a field name such as 'anchor' or 'anchor:0'")
    name, _, view = ref.partition(":")
    if name in raw and not view:
        return
    if name not in encoded:
        raise ValueError(f"{key} = {ref!r}: unknown field {name!r}; the data yields "
                         f"{sorted([*encoded, *raw])}")
    if view and not view.isdigit():
        raise ValueError(f"{key} = {ref!r}: expected 'field:N' with a view number N")


def _resolve(reference, outputs: dict[str, list[Tensor]], batch: dict):
    if isinstance(reference, list):
        return torch.stack([_resolve(r, outputs, batch) for r in reference], dim=1)
    if reference == "*":
        return torch.stack([z for f, views in outputs.items() if f != "negatives" for z in views], dim=1)
    name, _, view = reference.partition(":")
    if name in RAW_FIELDS or name not in outputs:
        return batch[name]
    views = outputs[name]
    if view:
        if int(view) >= len(views):
            raise ValueError(f"objective input {reference!r}: field {name!r} has {len(views)} view(s)")
        return views[int(view)]
    return views[0] if len(views) == 1 else torch.stack(views, dim=1)


def total_loss(objectives: list[Objective], outputs: dict[str, list[Tensor]], batch: dict) -> Tensor:
    """``sum_i weight_i * loss_i``; one objective of weight 1 is returned as it is."""
    if len(objectives) == 1 and objectives[0].weight == 1.0:
        return objectives[0](outputs, batch)
    return sum(o.weight * o(outputs, batch) for o in objectives)
