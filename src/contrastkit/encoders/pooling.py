r"""Token-to-sentence pooling for Transformer encoders.

Each function maps token states ``(N, T, h)`` and the attention mask ``(N, T)`` (1 = real token,
0 = padding) to sentence embeddings ``(N, h)``; padding never contributes.

.. math::
    \text{mean}(H)_i = \frac{\sum_t m_{it} H_{it}}{\max(\sum_t m_{it}, 10^{-9})}, \qquad
    \text{max}(H)_i = \max_{t : m_{it} = 1} H_{it}, \qquad \text{cls}(H)_i = H_{i0}

``avg_first_last`` is SimCSE's pooler (Gao, Yao, Chen, 2021, arXiv:2104.08821,
``simcse/models.py``): the masked mean of ``(H^{(1)} + H^{(L)}) / 2``, where ``H^{(1)}`` is the output
of the *first Transformer layer* (Hugging Face ``hidden_states[1]``, not the embedding output
``hidden_states[0]``) and ``H^{(L)}`` the last layer. ``cls_mlp`` is SimCSE's ``cls`` pooler: the [CLS]
state followed by ``tanh(W h + b)`` (``h x h``); it lives in :class:`~contrastkit.encoders.TextEncoder`
because it has weights.

The mean, max and cls definitions agree with sentence-transformers' ``Pooling`` module
(right-padded inputs), which the tests check on all-MiniLM-L6-v2.
"""

from __future__ import annotations

import torch
from torch import Tensor

POOLINGS = ("mean", "cls", "max", "cls_mlp", "avg_first_last")


def check_pooling(pooling: str) -> str:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling: expected one of {POOLINGS}, got {pooling!r}")
    return pooling


def _check(token_states: Tensor, attention_mask: Tensor) -> None:
    if token_states.dim() != 3:
        raise ValueError(f"token_states: expected (N, T, h), got shape {tuple(token_states.shape)}")
    if attention_mask.shape != token_states.shape[:2]:
        raise ValueError(
            f"attention_mask: expected shape {tuple(token_states.shape[:2])}, "
            f"got {tuple(attention_mask.shape)}"
        )


def mean_pool(token_states: Tensor, attention_mask: Tensor) -> Tensor:
    """Masked mean over tokens ``(N, T, h) -> (N, h)``, summed in float32 for half inputs."""
    _check(token_states, attention_mask)
    acc = torch.float32 if token_states.dtype in (torch.float16, torch.bfloat16) else token_states.dtype
    mask = attention_mask.unsqueeze(-1).to(token_states.dtype)  # (N, T, 1)
    total = (token_states * mask).sum(dim=1, dtype=acc)
    count = mask.sum(dim=1, dtype=acc).clamp(min=1e-9)
    return (total / count).to(token_states.dtype)


def max_pool(token_states: Tensor, attention_mask: Tensor) -> Tensor:
    """Elementwise max over real tokens ``(N, T, h) -> (N, h)`` (padding set to ``-inf`` first)."""
    _check(token_states, attention_mask)
    padding = (attention_mask == 0).unsqueeze(-1)
    return token_states.masked_fill(padding, float("-inf")).max(dim=1).values


def cls_pool(token_states: Tensor, attention_mask: Tensor) -> Tensor:
    """State of the first token ([CLS] for BERT-style, right-padded inputs) ``(N, T, h) -> (N, h)``."""
    _check(token_states, attention_mask)
    return token_states[:, 0]


def avg_first_last_pool(hidden_states: tuple[Tensor, ...], attention_mask: Tensor) -> Tensor:
    """SimCSE ``avg_first_last``: masked mean of ``(hidden_states[1] + hidden_states[-1]) / 2``."""
    if len(hidden_states) < 2:
        raise ValueError(
            f"hidden_states: expected the embedding output plus >= 1 layer, got {len(hidden_states)} tensors"
        )
    return mean_pool((hidden_states[1] + hidden_states[-1]) / 2.0, attention_mask)
