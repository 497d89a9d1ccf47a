r"""GradCache: a contrastive batch of any size in the memory of one chunk.

Gao, Zhang, Han & Callan, 2021, "Scaling Deep Contrastive Learning Batch Size under Memory Limited
Setup", arXiv:2101.06983, Sec. 3. The loss couples every pair of a batch, so the batch cannot be
split into independent micro-batches; but the gradient factorises through the embeddings
:math:`f_\theta(x_i)`:

.. math::
    \frac{\partial \mathcal{L}}{\partial \theta}
        = \sum_i \frac{\partial \mathcal{L}}{\partial f_\theta(x_i)}\,
                 \frac{\partial f_\theta(x_i)}{\partial \theta}.

1. encode every chunk without a graph and concatenate the embeddings;
2. compute the loss on them and its gradient :math:`u_i = \partial\mathcal L/\partial f_\theta(x_i)`
   (which also fills the gradients of the loss's own parameters, e.g. a learnable temperature);
3. re-encode each chunk with a graph and backpropagate :math:`\sum_{i\in \text{chunk}} \langle u_i,
   f_\theta(x_i)\rangle`, accumulating parameter gradients chunk by chunk.

The random state (CPU and every initialised CUDA device) is recorded before each chunk in step 1
and replayed in step 3, so dropout-based views (SimCSE) draw the same masks in both passes; after
the step it is left where plain backprop would leave it. Peak memory is one chunk's graph plus the
``N x d`` embeddings and the loss's own memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext

import torch
from torch import Tensor, nn


class _RandomState:
    """The CPU generator state and, when CUDA is initialised, every CUDA device's state."""

    def __init__(self) -> None:
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None

    def restore(self) -> None:
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)


def _rows(group) -> int:
    if isinstance(group, Tensor):
        return group.shape[0]
    if isinstance(group, Mapping):
        return next(iter(group.values())).shape[0]
    return group[0].shape[0]


def _chunk(group, start: int, stop: int):
    if isinstance(group, Tensor):
        return group[start:stop]
    if isinstance(group, Mapping):
        return {name: value[start:stop] for name, value in group.items()}
    return [value[start:stop] for value in group]


def _encode(encoder: Callable, chunk) -> Tensor:
    if isinstance(chunk, Tensor):
        out = encoder(chunk)
    elif isinstance(chunk, Mapping):
        out = encoder(**chunk)
    else:
        out = encoder(*chunk)
    if not isinstance(out, Tensor):
        raise ValueError(f"encoders: expected each encoder to return a Tensor, got {type(out).__name__}")
    return out


def _check_group(index: int, group) -> None:
    if isinstance(group, Tensor):
        values = [group]
    elif isinstance(group, Mapping):
        values = list(group.values())
    elif isinstance(group, (list, tuple)):
        values = list(group)
    else:
        values = []
    if not values or not all(isinstance(v, Tensor) and v.dim() >= 1 for v in values):
        raise ValueError(
            f"inputs[{index}]: expected a Tensor, a mapping or a sequence of Tensors, "
            f"got {type(group).__name__}"
        )
    rows = {v.shape[0] for v in values}
    if len(rows) != 1 or 0 in rows:
        raise ValueError(f"inputs[{index}]: expected tensors with one common, non-zero row count, got {rows}")


class GradCache:
    """Full-batch contrastive gradients computed chunk by chunk (Gao et al., 2021, arXiv:2101.06983).

    Args:
        encoders: one module used for every input group, or one per group (two towers).
        loss_fn: called as ``loss_fn(*embeddings, **loss_kwargs)`` with one ``(N_g, ...)`` tensor
            per input group; any loss of :mod:`contrastkit.losses` (or any differentiable callable
            returning a scalar).
        chunk_size: rows encoded with a graph at a time (per group).
        autocast: optional factory of the mixed-precision context the encoders run in, e.g.
            ``lambda: torch.autocast("cuda", dtype=torch.bfloat16)``; the loss runs outside it.
        scaler: optional ``torch.amp.GradScaler``; the loss is scaled before its backward pass.

    Calling it with input groups (a Tensor -> ``encoder(x)``, a mapping -> ``encoder(**x)``, a
    sequence -> ``encoder(*x)``; chunks are taken along dim 0) runs the three steps above and
    returns the detached loss; parameter gradients have been accumulated into ``.grad`` exactly as
    ``loss.backward()`` on the whole batch would. A batch whose groups fit together in one chunk
    takes plain backprop. Exactness needs encoders whose rows do not interact: BatchNorm in
    training mode normalises each chunk by its own statistics (and updates its running statistics
    in both passes). DDP-wrapped encoders synchronise once, on their last chunk; with uneven
    per-rank chunk counts wrap them with ``broadcast_buffers=False`` (DDP's per-forward buffer
    broadcast is a collective every rank must call equally often).

    Raises:
        ValueError: for a bad ``chunk_size``, a number of encoders that does not match the input
        groups, malformed inputs, or an encoder that does not return a Tensor.
    """

    def __init__(self, encoders: nn.Module | Sequence[nn.Module], loss_fn: Callable[..., Tensor],
                 chunk_size: int, *, autocast: Callable[[], AbstractContextManager] | None = None,
                 scaler: torch.amp.GradScaler | None = None):
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size: expected a positive int, got {chunk_size!r}")
        self.encoders = list(encoders) if isinstance(encoders, (list, tuple)) else [encoders]
        if not self.encoders or not all(callable(e) for e in self.encoders):
            raise ValueError("encoders: expected a module or a non-empty sequence of modules")
        self.loss_fn = loss_fn
        self.chunk_size = chunk_size
        self.autocast = autocast or nullcontext
        self.scaler = scaler

    def _encoder(self, group: int) -> Callable:
        return self.encoders[0] if len(self.encoders) == 1 else self.encoders[group]

    def _backward(self, loss: Tensor) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def __call__(self, *inputs, **loss_kwargs) -> Tensor:
        if not inputs:
            raise ValueError("inputs: expected at least one input group")
        if len(self.encoders) not in (1, len(inputs)):
            raise ValueError(f"encoders: got {len(self.encoders)} for {len(inputs)} input groups")
        for index, group in enumerate(inputs):
            _check_group(index, group)
        sizes = [_rows(group) for group in inputs]
        if sum(sizes) <= self.chunk_size:
            return self._plain_step(inputs, loss_kwargs)
        chunks = [list(range(0, n, self.chunk_size)) for n in sizes]

        # Step 1: embeddings without a graph, recording the random state before each chunk.
        states: list[list[_RandomState]] = []
        embeddings = []
        with torch.no_grad():
            for g, group in enumerate(inputs):
                states.append([])
                parts = []
                for start in chunks[g]:
                    states[g].append(_RandomState())
                    with self.autocast():
                        parts.append(_encode(self._encoder(g), _chunk(group, start, start + self.chunk_size)))
                embeddings.append(torch.cat(parts).detach().requires_grad_(True))

        # Step 2: the loss and its gradient w.r.t. the embeddings (and the loss's own parameters).
        loss = self.loss_fn(*embeddings, **loss_kwargs)
        self._backward(loss)
        after_loss = _RandomState()

        # Step 3: re-encode each chunk with a graph, replaying its random state.
        work = [(g, c) for g in range(len(inputs)) if embeddings[g].grad is not None
                for c in range(len(chunks[g]))]
        last = {}
        for position, (g, _) in enumerate(work):
            last[id(self._encoder(g))] = position
        for position, (g, c) in enumerate(work):
            start = chunks[g][c]
            encoder = self._encoder(g)
            states[g][c].restore()
            with ExitStack() as stack:
                if hasattr(encoder, "no_sync") and last[id(encoder)] != position:
                    stack.enter_context(encoder.no_sync())
                with self.autocast():
                    out = _encode(encoder, _chunk(inputs[g], start, start + self.chunk_size))
                if out.requires_grad:
                    out.backward(embeddings[g].grad[start : start + out.shape[0]].to(out.dtype))
        after_loss.restore()
        return loss.detach()

    def _plain_step(self, inputs, loss_kwargs) -> Tensor:
        with self.autocast():
            embeddings = [_encode(self._encoder(g), group) for g, group in enumerate(inputs)]
        loss = self.loss_fn(*embeddings, **loss_kwargs)
        self._backward(loss)
        return loss.detach()


__all__ = ["GradCache"]
