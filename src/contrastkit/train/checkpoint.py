"""Checkpoints: tensors in safetensors, everything else in a small JSON, both written atomically.

``step-00000100.safetensors`` holds the model weights (``model.*``), the optimizer's tensors
(``optim.<param index>.<name>``) and RNG states (``rng.*``, uint8). ``step-00000100.json`` holds
the step, the optimizer's param groups, the schedule and trainer state, and the size and SHA-256
of the tensor file. The JSON is written last: a checkpoint exists only once its JSON does and the
tensor file matches it, so a crash at any moment leaves the previous checkpoint loadable.
Loading uses safetensors and ``json`` only; nothing is unpickled. The JSON's tensor file name must
be a plain name inside the checkpoint folder: a JSON pointing elsewhere is refused, not followed.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .._atomic import atomic_write, atomic_write_json
from .._paths import confined

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


def checkpoint_problem(folder: Path, json_path: Path, verify: bool) -> str | None:
    """Why the checkpoint described by ``json_path`` cannot be loaded, or ``None``. The size is
    always checked, the SHA-256 only when ``verify`` (it reads the whole file)."""
    try:
        meta = json.loads(json_path.read_text())
        weights = confined(folder, meta["tensors"], "tensors", plain=True)
        size, sha256 = meta["size"], meta["sha256"]
    except KeyError as err:
        return f"its JSON lacks the key {err}"
    except (OSError, ValueError, TypeError) as err:
        return f"its JSON is unreadable or points outside the folder: {err}"
    if not weights.is_file():
        return f"its tensor file {weights.name} is missing"
    if weights.stat().st_size != size:
        return (f"its tensor file {weights.name} is {weights.stat().st_size} bytes, "
                f"the JSON records {size} (truncated)")
    if verify and _sha256(weights) != sha256:
        return f"its tensor file {weights.name} fails the SHA-256 checksum in its JSON"
    return None


def _json_paths(folder: Path) -> dict[int, Path]:
    found = {}
    for path in folder.glob("step-*.json") if folder.is_dir() else []:
        match = PATTERN.match(path.name)
        if match:
            found[int(match.group(1))] = path
    return found


def list_checkpoints(folder: str | Path) -> list[int]:
    """Steps of the complete checkpoints in ``folder`` (JSON present, tensor file inside the folder
    and of the recorded size), ascending."""
    folder = Path(folder)
    return sorted(step for step, path in _json_paths(folder).items()
                  if checkpoint_problem(folder, path, verify=False) is None)


def note_to_stderr(message: str) -> None:
    print(f"contrastkit: {message}", file=sys.stderr, flush=True)


def load_checkpoint(folder: str | Path, step: int | None = None,
                    note: Callable[[str], None] = note_to_stderr) -> tuple[dict, dict]:
    """``(tensors, meta)`` of checkpoint ``step``, its tensor file checked against the SHA-256 in
    its JSON. By default (``step=None``) the newest checkpoint that passes every check: newer ones
    that fail (truncated, missing or corrupt tensor file, bad JSON) are skipped, and ``note`` gets
    one line saying which and why."""
    folder = Path(folder)
    found = _json_paths(folder)
    if step is not None:
        if step not in found:
            raise ValueError(f"step: no checkpoint for step {step} in {folder} (have {sorted(found)})")
        problem = checkpoint_problem(folder, found[step], verify=True)
        if problem:
            raise ValueError(f"step: checkpoint step-{step:08d} in {folder} cannot be loaded: {problem}")
        return _load(folder, found[step])
    skipped = []
    for candidate in sorted(found, reverse=True):
        problem = checkpoint_problem(folder, found[candidate], verify=True)
        if problem is None:
            if skipped:
                note(f"skipped checkpoint {'; '.join(skipped)}; resuming from step-{candidate:08d}")
            return _load(folder, found[candidate])
        skipped.append(f"step-{candidate:08d} ({problem})")
    detail = f": {'; '.join(skipped)}" if skipped else ""
    raise ValueError(f"folder: no valid checkpoint in {folder}{detail}")


def _load(folder: Path, json_path: Path) -> tuple[dict, dict]:
    meta = json.loads(json_path.read_text())
    return load_file(str(confined(folder, meta["tensors"], "tensors", plain=True))), meta


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
