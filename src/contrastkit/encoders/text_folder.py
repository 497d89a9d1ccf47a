"""The on-disk folder of a :class:`~contrastkit.encoders.TextEncoder`: HF model + sentence-transformers files.

Files written by :func:`save_text_encoder`:

- the Hugging Face model (``config.json``, ``model.safetensors``) and tokenizer files, at the top level;
- ``sentence_bert_config.json`` (``max_seq_length``: the export length, see :meth:`TextEncoder.export_config`;
  the base model's length is kept even when training truncated shorter);
- ``1_Pooling/config.json`` in the legacy ``pooling_mode_*_token`` keys, which sentence-transformers 2.x
  and later all read;
- for ``cls_mlp``: ``2_Dense/`` (sentence-transformers ``Dense`` with ``Tanh``; weights ``linear.weight``,
  ``linear.bias``). It is listed in ``modules.json`` only when the MLP is used at inference
  (``mlp_only_train=False``), so sentence-transformers reproduces our eval-mode output either way;
- ``modules.json`` (Transformer, Pooling, [Dense], [Normalize if the encoder or its base model normalises]);
- ``contrastkit.json``: our settings (:meth:`TextEncoder.export_config`), the base model and a format number;
- ``README.md``: a model card, when :meth:`TextEncoder.save` is given one (:mod:`.model_card`).

``avg_first_last`` has no sentence-transformers equivalent: such a folder gets no ``modules.json`` (a
warning says so) and loads with :meth:`TextEncoder.load` only.

The folder is written under a sibling temporary name and renamed into place; an existing folder is
moved aside first and deleted after the rename, so a crash never leaves a half-written ``folder``.

This module does not import :mod:`.text` (the encoder class is passed in), so the two never form a cycle.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any

import torch

FORMAT = 1
_ST_MODES = {"mean": "mean", "cls": "cls", "max": "max", "cls_mlp": "cls"}
_TANH = "torch.nn.modules.activation.Tanh"
_LEGACY_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean",
                "pooling_mode_max_tokens": "max", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
                "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}


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
        stored = _read_json(folder / "contrastkit.json")
        return {"max_length": stored.get("max_length"), "normalize": bool(stored.get("normalize")),
                "name": stored.get("base_model") or str(folder)}
    normalize, max_length = False, _max_seq_length(folder)
    if (folder / "modules.json").is_file():
        for module in _read_json(folder / "modules.json"):
            kind = str(module.get("type", "")).rsplit(".", 1)[-1]
            normalize = normalize or kind == "Normalize"
            if kind == "Transformer":
                max_length = _max_seq_length(folder / module.get("path", "")) or max_length
    return {"max_length": max_length, "normalize": normalize, "name": str(folder)}


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def _write_folder(encoder, out: Path, card: str | None) -> None:
    from safetensors.torch import save_file

    from ._quiet import quiet_transformers

    cfg = encoder.export_config()
    with quiet_transformers():
        encoder.model.save_pretrained(out)
        encoder.tokenizer.save_pretrained(out)
    _write_json(out / "sentence_bert_config.json",
                {"max_seq_length": cfg["max_length"], "do_lower_case": False})
    _write_json(out / "contrastkit.json", {"format": FORMAT, **cfg, "base_model": encoder.base_model})
    if card is not None:
        (out / "README.md").write_text(card)
    if encoder.mlp is not None:
        _write_json(out / "2_Dense" / "config.json", {"in_features": encoder.dimension,
                                                      "out_features": encoder.dimension,
                                                      "bias": True, "activation_function": _TANH})
        weights = {"linear.weight": encoder.mlp.weight, "linear.bias": encoder.mlp.bias}
        save_file({k: v.detach().cpu().contiguous() for k, v in weights.items()},
                  str(out / "2_Dense" / "model.safetensors"))
    if encoder.pooling not in _ST_MODES:
        warnings.warn(f"pooling {encoder.pooling!r} has no sentence-transformers equivalent: the folder "
                      "gets no modules.json and loads with TextEncoder.load only", stacklevel=3)
        return
    mode = _ST_MODES[encoder.pooling]
    _write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": encoder.dimension,
        **{key: value == mode for key, value in list(_LEGACY_KEYS.items())[:4]},  # the keys of every version
    })
    modules = [("", "sentence_transformers.models.Transformer"),
               ("1_Pooling", "sentence_transformers.models.Pooling")]
    if encoder.mlp is not None and not encoder.mlp_only_train:
        modules.append(("2_Dense", "sentence_transformers.models.Dense"))
    if cfg["normalize"]:
        (out / f"{len(modules)}_Normalize").mkdir()
        modules.append((f"{len(modules)}_Normalize", "sentence_transformers.models.Normalize"))
    _write_json(out / "modules.json", [{"idx": i, "name": str(i), "path": p, "type": t}
                                       for i, (p, t) in enumerate(modules)])


def save_text_encoder(encoder, folder: str | os.PathLike, card: str | None = None) -> Path:
    """Write ``encoder`` (a :class:`~contrastkit.encoders.TextEncoder`) to ``folder`` atomically (see the
    module docstring), with ``card`` as its README.md; return the folder."""
    folder = Path(folder).expanduser().absolute()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"folder: {str(folder)!r} exists and is not a folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    tmp = folder.with_name(f".{folder.name}.tmp-{tag}")
    try:
        tmp.mkdir()
        _write_folder(encoder, tmp, card)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{tag}")
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old)
        else:
            os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return folder


def _settings_from_sentence_transformers(folder: Path) -> tuple[dict[str, Any], Path, Path | None]:
    """Our settings, the Transformer sub-folder and the Dense sub-folder of a sentence-transformers folder."""
    modules = _read_json(folder / "modules.json")
    settings: dict[str, Any] = {"normalize": False, "mlp_only_train": False}
    transformer, dense, mode = None, None, None
    for module in modules:
        kind = module["type"].rsplit(".", 1)[-1]
        path = folder / module.get("path", "")
        if kind == "Transformer":
            transformer = path
            max_length = _max_seq_length(path)
            if max_length is not None:
                settings["max_length"] = max_length
        elif kind == "Pooling":
            mode = _pooling_mode(_read_json(path / "config.json"))
        elif kind == "Dense" and dense is None:
            dense = path
        elif kind == "Normalize":
            settings["normalize"] = True
        else:
            raise ValueError(f"folder: sentence-transformers module {module['type']!r} is not supported")
    if transformer is None:
        raise ValueError(f"folder: {str(folder)!r} has no Transformer module in modules.json")
    if dense is not None:
        config = _read_json(dense / "config.json")
        square = config.get("in_features") == config.get("out_features")
        if mode != "cls" or not square or config.get("activation_function") != _TANH:
            raise ValueError("folder: only a square Tanh Dense layer after cls pooling (SimCSE) is supported")
        mode = "cls_mlp"
    settings["pooling"] = mode or "mean"
    return settings, transformer, dense


def _max_seq_length(path: Path) -> int | None:
    """sentence-transformers < 6 store it in ``sentence_bert_config.json``; 6.x as the tokenizer's
    ``model_max_length`` (huge placeholder values mean "unset")."""
    for name, key in (("sentence_bert_config.json", "max_seq_length"),
                      ("tokenizer_config.json", "model_max_length")):
        value = _read_json(path / name).get(key) if (path / name).is_file() else None
        if isinstance(value, int) and 0 < value < 100_000:
            return value
    return None


def _pooling_mode(config: dict[str, Any]) -> str:
    if "pooling_mode" in config:
        modes = config["pooling_mode"]
        modes = [modes] if isinstance(modes, str) else list(modes)
    else:
        modes = [mode for key, mode in _LEGACY_KEYS.items() if config.get(key)] or ["mean"]
    if len(modes) != 1 or modes[0] not in ("cls", "max", "mean"):
        raise ValueError(f"folder: pooling mode {modes} is not supported (expected one of cls, max, mean)")
    return modes[0]


def load_text_encoder(cls: type, folder: str | os.PathLike, **overrides: Any):
    """Build ``cls`` from ``folder``: ours, a sentence-transformers folder, or a plain HF folder."""
    folder = check_model_folder("folder", folder)
    transformer, dense = folder, None
    if (folder / "contrastkit.json").is_file():
        settings = _read_json(folder / "contrastkit.json")
        settings.pop("base_model", None)
        if settings.pop("format", None) != FORMAT:
            raise ValueError(f"folder: contrastkit.json has an unknown format (expected {FORMAT})")
        dense = folder / "2_Dense" if settings.get("pooling") == "cls_mlp" else None
    elif (folder / "modules.json").is_file():
        settings, transformer, dense = _settings_from_sentence_transformers(folder)
    else:
        settings = {}
    settings.update(overrides)
    encoder = cls(transformer, **settings)
    if encoder.mlp is not None and dense is not None:
        from safetensors.torch import load_file

        weights = load_file(str(dense / "model.safetensors"))
        with torch.no_grad():
            encoder.mlp.weight.copy_(weights["linear.weight"])
            encoder.mlp.bias.copy_(weights["linear.bias"])
    return encoder
