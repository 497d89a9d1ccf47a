"""Reading a model folder's settings: sentence-transformers' config files and contrastkit.json.

Shared by :mod:`.text_folder` (save / load) and :class:`~contrastkit.encoders.TextEncoder` (which
remembers its base model's export settings); imports neither.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .._paths import confined

TANH = "torch.nn.modules.activation.Tanh"
LEGACY_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean",
               "pooling_mode_max_tokens": "max", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
               "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def check_model_folder(name: str, folder: str | os.PathLike) -> Path:
    """Return ``folder`` as a :class:`Path`, or raise ``ValueError`` naming ``name`` if it is not a folder."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise ValueError(f"{name}: model folder {str(path)!r} does not exist (no hub downloads are made)")
    return path


def check_transformers_folder(name: str, folder: str | os.PathLike) -> Path:
    """Like :func:`check_model_folder`, and the folder must hold a transformers ``config.json``."""
    path = check_model_folder(name, folder)
    if not (path / "config.json").is_file():
        raise ValueError(f"{name}: {str(path)!r} is not a transformers model folder (no config.json)")
    return path


def base_settings(folder: Path) -> dict[str, Any]:
    """What a folder says about the model for export: ``max_length`` (its max_seq_length, or None),
    ``normalize`` (a Normalize module, or our stored setting) and ``name`` (the base model)."""
    if (folder / "contrastkit.json").is_file():
        stored = read_json(folder / "contrastkit.json")
        return {"max_length": stored.get("max_length"), "normalize": bool(stored.get("normalize")),
                "name": stored.get("base_model") or str(folder)}
    normalize, max_length = False, max_seq_length(folder)
    if (folder / "modules.json").is_file():
        for module in read_json(folder / "modules.json"):
            kind = str(module.get("type", "")).rsplit(".", 1)[-1]
            normalize = normalize or kind == "Normalize"
            if kind == "Transformer":
                path = confined(folder, module.get("path", ""), f"{folder / 'modules.json'}: path")
                max_length = max_seq_length(path) or max_length
    return {"max_length": max_length, "normalize": normalize, "name": str(folder)}

def settings_from_sentence_transformers(folder: Path) -> tuple[dict[str, Any], Path, Path | None]:
    """Our settings, the Transformer sub-folder and the Dense sub-folder of a sentence-transformers folder."""
    modules = read_json(folder / "modules.json")
    settings: dict[str, Any] = {"normalize": False, "mlp_only_train": False}
    transformer, dense, mode = None, None, None
    for module in modules:
        kind = module["type"].rsplit(".", 1)[-1]
        path = confined(folder, module.get("path", ""), f"{folder / 'modules.json'}: path")
        if kind == "Transformer":
            transformer = path
            max_length = max_seq_length(path)
            if max_length is not None:
                settings["max_length"] = max_length
        elif kind == "Pooling":
            mode = pooling_mode(read_json(path / "config.json"))
        elif kind == "Dense" and dense is None:
            dense = path
        elif kind == "Normalize":
            settings["normalize"] = True
        else:
            raise ValueError(f"folder: sentence-transformers module {module['type']!r} is not supported")
    if transformer is None:
        raise ValueError(f"folder: {str(folder)!r} has no Transformer module in modules.json")
    if dense is not None:
        config = read_json(dense / "config.json")
        square = config.get("in_features") == config.get("out_features")
        if mode != "cls" or not square or config.get("activation_function") != TANH:
            raise ValueError("folder: only a square Tanh Dense layer after cls pooling (SimCSE) is supported")
        mode = "cls_mlp"
    settings["pooling"] = mode or "mean"
    return settings, transformer, dense


def max_seq_length(path: Path) -> int | None:
    """sentence-transformers < 6 store it in ``sentence_bert_config.json``; 6.x as the tokenizer's
    ``model_max_length`` (huge placeholder values mean "unset")."""
    for name, key in (("sentence_bert_config.json", "max_seq_length"),
                      ("tokenizer_config.json", "model_max_length")):
        value = read_json(path / name).get(key) if (path / name).is_file() else None
        if isinstance(value, int) and 0 < value < 100_000:
            return value
    return None


def pooling_mode(config: dict[str, Any]) -> str:
    if "pooling_mode" in config:
        modes = config["pooling_mode"]
        modes = [modes] if isinstance(modes, str) else list(modes)
    else:
        modes = [mode for key, mode in LEGACY_KEYS.items() if config.get(key)] or ["mean"]
    if len(modes) != 1 or modes[0] not in ("cls", "max", "mean"):
        raise ValueError(f"folder: pooling mode {modes} is not supported (expected one of cls, max, mean)")
    return modes[0]
