r"""Fused Triton path of the streaming backend for the most common structure.

Supported subset (anything else runs the torch streaming path unchanged): CUDA tensors of dtype
float32, float16 or bfloat16 with feature size ``d <= 256``; a structure with only ``pos_index``
and/or ``self_index`` rules; no row negatives; log-sum-exp statistics ``lse_all`` and
``col_lse_all`` (the ``pos_*`` statistics of such a structure are an ``O(N d)`` gather done in torch
by :mod:`._index_positives`); ``tile_size`` does not apply (fixed blocks). For ``lse_all`` with
row incoming gradient ``g`` and column incoming gradient ``h``, the backward pass recomputes every
tile and uses

.. math::

    \frac{\partial L}{\partial s_{ij}} = [j \in kept(i)]
        \left(g_i e^{s_{ij} - lse_i} + h_j e^{s_{ij} - lse^{col}_j}\right),\quad
    dA = scale\, dS\, C,\quad dC = scale\, dS^\top A,\quad
    d\,scale = \textstyle\sum_i \langle (dS\, C)_i, a_i \rangle .

Triton is imported lazily, on the first call. Because the kernels have not yet run on a GPU, the
fused path is opt-in on CUDA: ``CONTRASTKIT_TRITON=1`` turns it on (the torch streaming path, tested
against the reference in CI, is the default); ``CONTRASTKIT_TRITON=0`` keeps it off everywhere.
Setting ``CONTRASTKIT_TRITON_INTERPRET=1`` (together with Triton's own ``TRITON_INTERPRET=1``, set
before Triton is imported) lets CPU tensors take this path under the Triton interpreter: that is how
it is tested without a GPU. The kernels have not yet been run on a GPU.
"""

from __future__ import annotations

import importlib.util
import os

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .structure import PairStructure

TRITON_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
MAX_DIM = 256
#: (rows, columns) of a tile on a GPU (feature blocks up to 128, and above) and under the interpreter.
BLOCKS = {"cuda": (64, 64), "cuda_wide": (32, 32), "cpu": (16, 16)}


def _blocks(x: Tensor) -> tuple[int, int]:
    if x.device.type == "cpu":
        return BLOCKS["cpu"]
    return BLOCKS["cuda"] if _d_block(x.shape[1]) <= 128 else BLOCKS["cuda_wide"]


def _interpret_opt_in() -> bool:
    return os.environ.get("CONTRASTKIT_TRITON_INTERPRET") == "1" and os.environ.get("TRITON_INTERPRET") == "1"


def triton_applicable(anchors: Tensor, candidates: Tensor, structure: PairStructure,
                      row_want: frozenset[str], col_want: frozenset[str],
                      row_negatives: Tensor | None) -> bool:
    """Whether this call is in the subset the fused kernels compute (see the module docstring)."""
    switch = os.environ.get("CONTRASTKIT_TRITON")
    if switch == "0":
        return False
    device = anchors.device.type
    if not ((device == "cuda" and switch == "1") or (device == "cpu" and _interpret_opt_in())):
        return False
    if row_negatives is not None or not (row_want | col_want) or not (row_want | col_want) <= {"lse_all"}:
        return False
    if structure.anchor_labels is not None or structure.anchor_ids is not None:
        return False
    if anchors.dtype not in TRITON_DTYPES or candidates.dtype != anchors.dtype:
        return False
    if anchors.shape[0] == 0 or candidates.shape[0] == 0 or not 1 <= anchors.shape[1] <= MAX_DIM:
        return False
    if max(anchors.numel(), candidates.numel()) >= 2**31:  # the kernels index with int32 offsets
        return False
    return importlib.util.find_spec("triton") is not None


def _launch_forward(x: Tensor, y: Tensor, excl: Tensor | None, mode: int, scale: float) -> Tensor:
    import triton

    from ._triton_kernels import lse_forward_kernel

    block_r, block_c = _blocks(x)
    out = torch.empty(x.shape[0], dtype=torch.float32, device=x.device)
    lse_forward_kernel[(triton.cdiv(x.shape[0], block_r),)](
        x, y, x if excl is None else excl, out, x.shape[0], y.shape[0], x.shape[1], x.stride(0), y.stride(0),
        scale, EXCLUDE=mode, UPCAST=_upcast(x), BLOCK_R=block_r, BLOCK_C=block_c,
        D_BLOCK=_d_block(x.shape[1]))
    return out


def _launch_backward(x, y, excl, mode, scale, g_row, lse_row, g_col, lse_col) -> Tensor:
    import triton

    from ._triton_kernels import lse_backward_kernel

    block_r, block_c = _blocks(x)
    out = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    dummy = out
    lse_backward_kernel[(triton.cdiv(x.shape[0], block_r),)](
        x, y, x if excl is None else excl,
        dummy if g_row is None else g_row, dummy if lse_row is None else lse_row,
        dummy if g_col is None else g_col, dummy if lse_col is None else lse_col, out,
        x.shape[0], y.shape[0], x.shape[1], x.stride(0), y.stride(0), out.stride(0), scale,
        EXCLUDE=mode, UPCAST=_upcast(x), HAS_ROW=g_row is not None, HAS_COL=g_col is not None,
        BLOCK_R=block_r, BLOCK_C=block_c, D_BLOCK=_d_block(x.shape[1]))
    return out


def _upcast(x: Tensor) -> bool:
    """Multiply tiles in float32: on the CPU interpreter for bfloat16 (see :mod:`._triton_kernels`)."""
    return x.device.type == "cpu" and x.dtype == torch.bfloat16


def _d_block(dim: int) -> int:
    return max(16, 1 << (dim - 1).bit_length())


class TritonLogSumExp(torch.autograd.Function):
    """``(lse_all, col_lse_all)`` (each None unless wanted) over ``(anchors, candidates, scale)``."""

    @staticmethod
    def forward(ctx, anchors, candidates, scale, self_index, want_rows, want_cols):
        a, c = anchors.contiguous(), candidates.contiguous()
        s = float(scale.detach())
        excl = None if self_index is None else self_index.contiguous()
        mode = 0 if excl is None else 1
        lse_row = _launch_forward(a, c, excl, mode, s) if want_rows else None
        lse_col = _launch_forward(c, a, excl, 2 * (mode > 0), s) if want_cols else None
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(anchors, candidates, scale, self_index, lse_row, lse_col)
        return lse_row, lse_col

    @staticmethod
    @once_differentiable
    def backward(ctx, g_row, g_col):
        anchors, candidates, scale, self_index, lse_row, lse_col = ctx.saved_tensors
        need_a, need_c, need_scale = ctx.needs_input_grad[:3]
        if g_row is None and g_col is None:
            return None, None, None, None, None, None
        a, c = anchors.contiguous(), candidates.contiguous()
        s = float(scale)
        g_row = None if g_row is None else g_row.float().contiguous()
        g_col = None if g_col is None else g_col.float().contiguous()
        mode = 0 if self_index is None else 1
        d_a = d_c = d_scale = None
        if need_a or need_scale:
            raw = _launch_backward(a, c, self_index, mode, s, g_row, lse_row, g_col, lse_col)  # dS C
            d_scale = (raw * a.float()).sum().to(scale) if need_scale else None
            d_a = (raw * s).to(anchors.dtype) if need_a else None
        if need_c:
            raw = _launch_backward(c, a, self_index, 2 * (mode > 0), s, g_col, lse_col, g_row, lse_row)
            d_c = (raw * s).to(candidates.dtype)
        return d_a, d_c, d_scale, None, None, None


def triton_lse_statistics(anchors: Tensor, candidates: Tensor, structure: PairStructure,
                          row_want: frozenset[str], col_want: frozenset[str],
                          scale: Tensor) -> dict[str, Tensor]:
    """``lse_all`` and/or ``col_lse_all`` (names as in PairStats) by the fused kernels."""
    self_index = None if structure.self_index is None else structure.self_index.to(anchors.device)
    lse_row, lse_col = TritonLogSumExp.apply(anchors, candidates, scale.reshape(()), self_index,
                                             "lse_all" in row_want, "lse_all" in col_want)
    out = {}
    if lse_row is not None:
        out["lse_all"] = lse_row
    if lse_col is not None:
        out["col_lse_all"] = lse_col
    return out
