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

from ._folder_settings import (
    LEGACY_KEYS,
    TANH,
    base_settings,
    check_model_folder,
    check_transformers_folder,
    read_json,
    settings_from_sentence_transformers,
)

__all__ = ["FORMAT", "base_settings", "check_model_folder", "check_transformers_folder", "load_text_encoder",
           "save_text_encoder"]

FORMAT = 1
_ST_MODES = {"mean": "mean", "cls": "cls", "max": "max", "cls_mlp": "cls"}


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


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
                                                      "bias": True, "activation_function": TANH})
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
        **{key: value == mode for key, value in list(LEGACY_KEYS.items())[:4]},  # the keys of every version
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


def load_text_encoder(cls: type, folder: str | os.PathLike, **overrides: Any):
    """Build ``cls`` from ``folder``: ours, a sentence-transformers folder, or a plain HF folder."""
    folder = check_model_folder("folder", folder)
    transformer, dense = folder, None
    if (folder / "contrastkit.json").is_file():
        settings = read_json(folder / "contrastkit.json")
        settings.pop("base_model", None)
        if settings.pop("format", None) != FORMAT:
            raise ValueError(f"folder: contrastkit.json has an unknown format (expected {FORMAT})")
        dense = folder / "2_Dense" if settings.get("pooling") == "cls_mlp" else None
    elif (folder / "modules.json").is_file():
        settings, transformer, dense = settings_from_sentence_transformers(folder)
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
