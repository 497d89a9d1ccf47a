r"""Hugging Face text encoder with sentence pooling, loadable and savable as a sentence-transformers folder.

The folder format lives in :mod:`.text_folder`, which this module imports (never the other way round).

Importing this module does not import ``transformers``; the first :class:`TextEncoder` does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ._quiet import quiet_transformers
from .pooling import avg_first_last_pool, check_pooling, cls_pool, max_pool, mean_pool
from .text_folder import (
    base_settings,
    check_model_folder,
    check_transformers_folder,
    load_text_encoder,
    save_text_encoder,
)

__all__ = ["TextEncoder", "check_model_folder"]

_POOL = {"mean": mean_pool, "cls": cls_pool, "max": max_pool, "cls_mlp": cls_pool}


class TextEncoder(nn.Module):
    r"""A Transformer encoder plus pooling: ``list[str] -> (N, d)`` sentence embeddings.

    Poolings (see :mod:`contrastkit.encoders.pooling`): ``mean`` (masked), ``cls``, ``max``,
    ``avg_first_last`` (SimCSE) and ``cls_mlp``: SimCSE's ``cls`` pooler (Gao, Yao, Chen, 2021,
    arXiv:2104.08821), :math:`\tanh(W h_{\text{[CLS]}} + b)` with a new ``h x h`` layer; with
    ``mlp_only_train=True`` (SimCSE's unsupervised setting) the layer is applied in training mode only
    and :meth:`encode` / eval-mode calls return the raw [CLS] state.

    Built from a folder, the encoder remembers the base model's export settings (its ``max_seq_length``
    and whether it ends with ``Normalize``), so :meth:`save` keeps them even when training used a
    shorter ``max_length`` or ``normalize=False`` (:meth:`export_config`).

    :meth:`forward` follows the module's mode: in training mode the Transformer's dropout is active, so
    encoding the same batch twice gives the two views of unsupervised SimCSE. :meth:`encode` always runs
    in eval mode without gradients. The encoder starts in training mode like any ``nn.Module``.

    Args:
        model: a local model folder (loaded with ``AutoModel.from_pretrained(..., local_files_only=True)``)
            or a ``transformers.PreTrainedModel``.
        tokenizer: a folder or a tokenizer object; defaults to the model folder.
        pooling: one of ``mean``, ``cls``, ``max``, ``cls_mlp``, ``avg_first_last``.
        max_length: tokens per text (longer texts are truncated).
        mlp_only_train: for ``cls_mlp``: use the MLP in training mode only.
        normalize: default of :meth:`encode`'s ``normalize`` (``forward`` never normalises).
    Raises:
        ValueError: naming the argument, for a missing folder, unknown pooling, ``max_length < 1``, or a
            tokenizer missing when ``model`` is an object.
    """

    def __init__(self, model: Any, tokenizer: Any = None, *, pooling: str = "mean", max_length: int = 128,
                 mlp_only_train: bool = False, normalize: bool = False):
        super().__init__()
        self.pooling = check_pooling(pooling)
        if int(max_length) != max_length or max_length < 1:
            raise ValueError(f"max_length: expected a positive integer, got {max_length!r}")
        from transformers import AutoModel, AutoTokenizer

        base = {"max_length": None, "normalize": False, "name": type(model).__name__}
        if isinstance(model, (str, os.PathLike)):
            folder = check_transformers_folder("model", model)
            base = base_settings(folder)
            with quiet_transformers():
                model = AutoModel.from_pretrained(folder, local_files_only=True)
            tokenizer = folder if tokenizer is None else tokenizer
        elif not isinstance(model, nn.Module):
            raise ValueError(f"model: expected a folder or a transformers model, got {type(model).__name__}")
        if tokenizer is None:
            raise ValueError("tokenizer: required when model is a model object")
        if isinstance(tokenizer, (str, os.PathLike)):
            with quiet_transformers():
                tokenizer = AutoTokenizer.from_pretrained(check_model_folder("tokenizer", tokenizer),
                                                          local_files_only=True)
        self.base_model = str(base["name"])
        self._base_max_length = base["max_length"]
        self._base_normalize = bool(base["normalize"])
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.mlp_only_train = bool(mlp_only_train)
        self.normalize = bool(normalize)
        hidden = self.dimension
        self.mlp = nn.Linear(hidden, hidden) if pooling == "cls_mlp" else None
        if self.mlp is not None:  # BERT's initialisation, as SimCSE's init_weights
            std = getattr(model.config, "initializer_range", 0.02)
            nn.init.normal_(self.mlp.weight, std=std)
            nn.init.zeros_(self.mlp.bias)
        self.train()

    @property
    def dimension(self) -> int:
        """Size ``d`` of the sentence embedding (the Transformer's hidden size)."""
        return int(self.model.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def config(self) -> dict[str, Any]:
        """The settings :meth:`save` writes to ``contrastkit.json``."""
        return {"pooling": self.pooling, "max_length": self.max_length,
                "mlp_only_train": self.mlp_only_train, "normalize": self.normalize}

    def export_config(self) -> dict[str, Any]:
        """The settings a saved folder gets: :meth:`config`, with ``max_length`` at least the base
        model's ``max_seq_length`` and ``normalize`` on when the base model normalises."""
        cfg = self.config()
        cfg["max_length"] = max(self.max_length, self._base_max_length or 0)
        cfg["normalize"] = self.normalize or self._base_normalize
        return cfg

    def embed(self, texts: Sequence[str] | Mapping[str, Tensor]) -> Tensor:
        """What the model means at inference: :meth:`forward`, L2-normalised when ``normalize`` (as
        sentence-transformers' ``Normalize`` module); ``embed`` and ``contrastkit embed`` use it."""
        out = self(texts)
        return torch.nn.functional.normalize(out, dim=-1) if self.normalize else out

    def tokenize(self, texts: Sequence[str]) -> dict[str, Tensor]:
        """Tokenize with padding, truncation to ``max_length``; tensors on the encoder's device."""
        _check_texts(texts)
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt")
        return {key: value.to(self.device) for key, value in batch.items()}

    def forward(self, texts: Sequence[str] | Mapping[str, Tensor] | None = None, **tokens: Tensor) -> Tensor:
        """Embed a list of texts, a :meth:`tokenize` output, or the same tensors as keywords (as
        :class:`~contrastkit.scale.GradCache` passes a tokenized chunk) to ``(N, d)``, with gradients."""
        if tokens and texts is not None:
            raise ValueError("texts: give texts or tokenized keyword tensors, not both")
        batch = tokens if tokens else dict(texts) if isinstance(texts, Mapping) else self.tokenize(texts)
        if "attention_mask" not in batch:
            raise ValueError("texts: a tokenized batch needs an 'attention_mask'")
        want_layers = self.pooling == "avg_first_last"
        out = self.model(**batch, output_hidden_states=want_layers, return_dict=True)
        mask = batch["attention_mask"]
        if want_layers:
            return avg_first_last_pool(out.hidden_states, mask)
        pooled = _POOL[self.pooling](out.last_hidden_state, mask)
        if self.mlp is not None and (self.training or not self.mlp_only_train):
            pooled = torch.tanh(self.mlp(pooled))
        return pooled

    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch_size: int = 32, *, normalize: bool | None = None,
               show_progress: bool = False) -> Tensor:
        """Embed ``texts`` in eval mode, ``batch_size`` at a time (longest first), in input order.

        Returns:
            ``(N, d)`` tensor on the encoder's device; rows L2-normalised when ``normalize`` (default:
            the encoder's ``normalize`` setting).
        """
        _check_texts(texts)
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
        normalize = self.normalize if normalize is None else normalize
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        starts = range(0, len(texts), batch_size)
        if show_progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="encode", unit="batch")
        was_training = self.training
        self.eval()
        try:
            parts = [self([texts[i] for i in order[s:s + batch_size]]) for s in starts]
        finally:
            self.train(was_training)
        sorted_out = torch.cat(parts)
        out = torch.empty_like(sorted_out)
        out[torch.tensor(order, device=out.device)] = sorted_out
        return torch.nn.functional.normalize(out, dim=-1) if normalize else out

    def save(self, folder: str | os.PathLike, card: str | None = None) -> Path:
        """Write a folder that :meth:`load` and ``sentence_transformers.SentenceTransformer`` both load,
        with ``card`` (e.g. :func:`~contrastkit.encoders.model_card.model_card`) as its README.md.

        Written atomically: into a sibling temporary folder, then renamed over ``folder``. See
        :func:`contrastkit.encoders.text_folder.save_text_encoder` for the files.
        """
        return save_text_encoder(self, folder, card)

    @classmethod
    def load(cls, folder: str | os.PathLike, **overrides: Any) -> TextEncoder:
        """Load a folder written by :meth:`save`, a sentence-transformers folder, or a plain HF folder.

        ``overrides`` (``pooling``, ``max_length``, ``mlp_only_train``, ``normalize``) replace the
        stored settings.
        """
        return load_text_encoder(cls, folder, **overrides)


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise ValueError(f"texts: expected a list of strings, got {type(texts).__name__}")
    if len(texts) == 0:
        raise ValueError("texts: expected at least one text")
    bad = next((t for t in texts if not isinstance(t, str)), None)
    if bad is not None:
        raise ValueError(f"texts: expected strings only, got a {type(bad).__name__}")
