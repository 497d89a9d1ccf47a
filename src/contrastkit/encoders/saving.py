"""Save a module as a folder (``config.json`` + ``model.safetensors``) and load it back by name.

A saveable class lists its constructor arguments in ``config_keys``; :func:`load_module` rebuilds
it through a registered class name (never an import path from the file) and loads the weights
with safetensors, so nothing is unpickled. Both files are written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .._atomic import atomic_write, atomic_write_json
from .cnn import SmallCNN
from .mlp import MLP, ProjectionHead

SAVEABLE: dict[str, type[nn.Module]] = {cls.__name__: cls for cls in (SmallCNN, MLP, ProjectionHead)}
FORMAT_VERSION = 1


def register_saveable(cls: type[nn.Module]) -> type[nn.Module]:
    """Make ``cls`` loadable by :func:`load_module` (usable as a class decorator)."""
    if not hasattr(cls, "config_keys"):
        raise ValueError(f"cls: {cls.__name__} needs a config_keys tuple naming its constructor arguments")
    SAVEABLE[cls.__name__] = cls
    return cls


def module_config(module: nn.Module) -> dict:
    cls = type(module)
    if cls.__name__ not in SAVEABLE:
        raise ValueError(f"module: {cls.__name__} is not registered as saveable ({sorted(SAVEABLE)})")
    args = {key: getattr(module, key) for key in cls.config_keys}
    return {"class": cls.__name__, "args": json.loads(json.dumps(args))}


def save_module(folder: str | Path, module: nn.Module, extra: dict | None = None) -> Path:
    """Write ``folder/model.safetensors`` then ``folder/config.json`` (the config names the class,
    its arguments and any ``extra`` metadata, e.g. preprocessing)."""
    folder = Path(folder)
    floating = [p.dtype for p in module.parameters() if p.is_floating_point()]
    dtype = str(floating[0]).removeprefix("torch.") if floating else "float32"
    config = {"format_version": FORMAT_VERSION, **module_config(module), "dtype": dtype, "extra": extra or {}}
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write(folder / "model.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    atomic_write_json(folder / "config.json", config)
    return folder


def load_module(folder: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the module saved in ``folder``; returns ``(module in eval mode, extra metadata)``."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ValueError(f"folder: {folder} holds no config.json (not a saved model)")
    config = json.loads(config_path.read_text())
    name = config.get("class")
    if name not in SAVEABLE:
        raise ValueError(f"{config_path}: unknown class {name!r} (known: {sorted(SAVEABLE)})")
    module = SAVEABLE[name](**config.get("args", {}))
    dtype = getattr(torch, config.get("dtype", "float32"), None)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"{config_path}: unknown dtype {config.get('dtype')!r}")
    module = module.to(dtype)
    state = load_file(str(folder / "model.safetensors"), device=str(device))
    module.load_state_dict(state)
    return module.to(device).eval(), config.get("extra", {})
