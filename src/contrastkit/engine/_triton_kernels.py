"""Triton kernels of the fused backend: a similarity tile plus an online log-sum-exp, both passes.

Imported only by :mod:`.triton_backend` on first use (never at ``import contrastkit``), and
importable without Triton (the kernels are then plain, never-called functions). Every kernel
walks one block of "rows" ``X`` against all "columns" ``Y``; the column statistics and ``dL/dC`` reuse
the same kernels with the operands swapped (``EXCLUDE`` says on which side the excluded index lives).

Logits ``s = scale * X Y^T`` are accumulated in float32 (``tl.dot`` in IEEE precision, so no TF32).
An excluded pair (``self_index``) and the padding outside ``N x M`` count as ``-inf``.
"""

from __future__ import annotations

try:
    import triton
    import triton.language as tl

    _jit = triton.jit
except ImportError:  # keeps the module importable; triton_backend only launches these with Triton
    tl = None

    def _jit(fn):
        return fn


@_jit
def _logits(x_ptr, y_ptr, rows, cols, row_ok, col_ok, stride_x, stride_y, dim, scale,
            excl_ptr, EXCLUDE: tl.constexpr, D_BLOCK: tl.constexpr, UPCAST: tl.constexpr):
    """``(s, kept)`` of one tile: scaled logits in float32 and the mask of pairs that count.

    ``UPCAST`` multiplies in float32 (exact for bf16/fp16 products); the interpreter needs it for
    bfloat16, whose ``tl.dot`` it computes wrongly (measured with triton 3.9.0)."""
    ks = tl.arange(0, D_BLOCK)
    k_ok = ks < dim
    x = tl.load(x_ptr + rows[:, None] * stride_x + ks[None, :], mask=row_ok[:, None] & k_ok[None, :],
                other=0.0)
    y = tl.load(y_ptr + cols[:, None] * stride_y + ks[None, :], mask=col_ok[:, None] & k_ok[None, :],
                other=0.0)
    if UPCAST:
        x = x.to(tl.float32)
        y = y.to(tl.float32)
    s = tl.dot(x, tl.trans(y), input_precision="ieee", out_dtype=tl.float32) * scale
    kept = row_ok[:, None] & col_ok[None, :]
    if EXCLUDE == 1:  # pair (r, c) excluded when excl[r] == c
        excl = tl.load(excl_ptr + rows, mask=row_ok, other=-1)
        kept = kept & (excl[:, None] != cols[None, :])
    if EXCLUDE == 2:  # pair (r, c) excluded when excl[c] == r (the transposed launch)
        excl = tl.load(excl_ptr + cols, mask=col_ok, other=-1)
        kept = kept & (excl[None, :] != rows[:, None])
    return s, kept


@_jit
def lse_forward_kernel(x_ptr, y_ptr, excl_ptr, out_ptr, n_rows, n_cols, dim, stride_x, stride_y, scale,
                       EXCLUDE: tl.constexpr, UPCAST: tl.constexpr, BLOCK_R: tl.constexpr,
                       BLOCK_C: tl.constexpr, D_BLOCK: tl.constexpr):
    """``out[r] = log sum_{c kept} exp(s_rc)`` for one block of rows; ``-inf`` when nothing is kept."""
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    row_ok = rows < n_rows
    peak = tl.full((BLOCK_R,), float("-inf"), tl.float32)
    total = tl.zeros((BLOCK_R,), tl.float32)
    for start in range(0, n_cols, BLOCK_C):
        cols = start + tl.arange(0, BLOCK_C)
        col_ok = cols < n_cols
        s, kept = _logits(x_ptr, y_ptr, rows, cols, row_ok, col_ok, stride_x, stride_y, dim, scale,
                          excl_ptr, EXCLUDE, D_BLOCK, UPCAST)
        s = tl.where(kept, s, float("-inf"))
        new_peak = tl.maximum(peak, tl.max(s, axis=1))
        safe = tl.where(new_peak == float("-inf"), 0.0, new_peak)
        total = total * tl.exp(peak - safe) + tl.sum(tl.exp(s - safe[:, None]), axis=1)
        peak = new_peak
    lse = tl.where(total > 0, peak + tl.log(tl.where(total > 0, total, 1.0)), float("-inf"))
    tl.store(out_ptr + rows, lse, mask=row_ok)


@_jit
def lse_backward_kernel(x_ptr, y_ptr, excl_ptr, g_row_ptr, lse_row_ptr, g_col_ptr, lse_col_ptr, out_ptr,
                        n_rows, n_cols, dim, stride_x, stride_y, stride_out, scale,
                        EXCLUDE: tl.constexpr, UPCAST: tl.constexpr, HAS_ROW: tl.constexpr,
                        HAS_COL: tl.constexpr,
                        BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr, D_BLOCK: tl.constexpr):
    """``out[r] = sum_c dS_rc y_c`` (no ``scale`` factor) for one block of rows, with
    ``dS_rc = [kept] (g_row[r] exp(s_rc - lse_row[r]) + g_col[c] exp(s_rc - lse_col[c]))``."""
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    row_ok = rows < n_rows
    ks = tl.arange(0, D_BLOCK)
    k_ok = ks < dim
    if HAS_ROW:
        g_row = tl.load(g_row_ptr + rows, mask=row_ok, other=0.0)
        lse_row = tl.load(lse_row_ptr + rows, mask=row_ok, other=0.0)
    acc = tl.zeros((BLOCK_R, D_BLOCK), tl.float32)
    for start in range(0, n_cols, BLOCK_C):
        cols = start + tl.arange(0, BLOCK_C)
        col_ok = cols < n_cols
        s, kept = _logits(x_ptr, y_ptr, rows, cols, row_ok, col_ok, stride_x, stride_y, dim, scale,
                          excl_ptr, EXCLUDE, D_BLOCK, UPCAST)
        d_s = tl.zeros((BLOCK_R, BLOCK_C), tl.float32)
        if HAS_ROW:
            d_s += g_row[:, None] * tl.exp(tl.where(kept, s - lse_row[:, None], float("-inf")))
        if HAS_COL:
            g_col = tl.load(g_col_ptr + cols, mask=col_ok, other=0.0)
            lse_col = tl.load(lse_col_ptr + cols, mask=col_ok, other=0.0)
            d_s += g_col[None, :] * tl.exp(tl.where(kept, s - lse_col[None, :], float("-inf")))
        y = tl.load(y_ptr + cols[:, None] * stride_y + ks[None, :], mask=col_ok[:, None] & k_ok[None, :],
                    other=0.0).to(tl.float32)
        acc += tl.dot(d_s, y, input_precision="ieee", out_dtype=tl.float32)
    tl.store(out_ptr + rows[:, None] * stride_out + ks[None, :], acc, mask=row_ok[:, None] & k_ok[None, :])
