"""Checkpoints: tensors in safetensors, everything else in a small JSON, both written atomically.

``step-00000100.safetensors`` holds the model weights (``model.*``), the optimizer's tensors
(``optim.<param index>.<name>``) and RNG states (``rng.*``, uint8). ``step-00000100.json`` holds
the step, the optimizer's param groups, the schedule and trainer state, and the size and SHA-256
of the tensor file. The JSON is written last: a checkpoint exists only once its JSON does and the
tensor file matches it, so a crash at any moment leaves the previous checkpoint loadable.
Loading uses safetensors and ``json`` only; nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .._atomic import atomic_write, atomic_write_json

PATTERN = re.compile(r"^step-(\d{8})\.json$")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pack_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Split ``optimizer.state_dict()`` into tensors and JSON-able data."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entry in state["state"].items():
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unpack_optimizer(tensors: dict, meta: dict) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for index, entry in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entry)
    return {"state": state, "param_groups": meta["param_groups"]}


def rng_tensors() -> dict[str, torch.Tensor]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = state
    return tensors


def restore_rng(tensors: dict[str, torch.Tensor]) -> None:
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"].cpu())
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k].cpu() for k in cuda][: torch.cuda.device_count()])


def save_checkpoint(
    folder: str | Path, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict
) -> Path:
    """Write checkpoint ``step`` into ``folder``; ``state`` is JSON-able trainer state. Returns
    the JSON path."""
    folder = Path(folder)
    stem = f"step-{step:08d}"
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optim_tensors, optim_meta = pack_optimizer(optimizer)
    tensors.update(optim_tensors)
    tensors.update(rng_tensors())
    weights = atomic_write(folder / f"{stem}.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    meta = {
        "step": step,
        "optimizer": optim_meta,
        "state": state,
        "tensors": weights.name,
        "size": weights.stat().st_size,
        "sha256": _sha256(weights),
    }
    return atomic_write_json(folder / f"{stem}.json", meta)


def list_checkpoints(folder: str | Path) -> list[int]:
    """Steps of the complete checkpoints in ``folder`` (JSON present, tensor file of the recorded
    size), ascending."""
    folder = Path(folder)
    steps = []
    for path in folder.glob("step-*.json") if folder.is_dir() else []:
        match = PATTERN.match(path.name)
        if not match:
            continue
        try:
            meta = json.loads(path.read_text())
            weights = folder / meta["tensors"]
            if weights.is_file() and weights.stat().st_size == meta["size"]:
                steps.append(int(match.group(1)))
        except (OSError, ValueError, KeyError, TypeError):  # TypeError: valid JSON, not an object
            continue
    return sorted(steps)


def load_checkpoint(folder: str | Path, step: int | None = None) -> tuple[dict, dict]:
    """``(tensors, meta)`` of checkpoint ``step`` (default: the latest complete one). The tensor
    file's SHA-256 is checked against the JSON."""
    folder = Path(folder)
    steps = list_checkpoints(folder)
    if not steps:
        raise ValueError(f"folder: no complete checkpoint in {folder}")
    step = steps[-1] if step is None else step
    if step not in steps:
        raise ValueError(f"step: no complete checkpoint for step {step} in {folder} (have {steps})")
    meta = json.loads((folder / f"step-{step:08d}.json").read_text())
    weights = folder / meta["tensors"]
    if _sha256(weights) != meta["sha256"]:
        raise ValueError(f"{weights}: contents do not match the checksum in its JSON")
    return load_file(str(weights)), meta


def model_state(tensors: dict) -> dict:
    return {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}


def prune_checkpoints(folder: str | Path, keep_last: int, protect: set[int] = frozenset()) -> None:
    """Delete all but the newest ``keep_last`` checkpoints, never one in ``protect`` (the best).
    The JSON goes first, so a crash mid-prune never leaves a JSON without its tensors."""
    folder = Path(folder)
    steps = list_checkpoints(folder)
    for step in steps[: max(len(steps) - keep_last, 0)]:
        if step in protect:
            continue
        (folder / f"step-{step:08d}.json").unlink(missing_ok=True)
        (folder / f"step-{step:08d}.safetensors").unlink(missing_ok=True)
    for leftover in folder.glob(".step-*.tmp"):  # temporaries of a save that was killed
        leftover.unlink(missing_ok=True)
