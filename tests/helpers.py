"""Shared test helpers: seeded inputs and dtype-keyed tolerances."""

from __future__ import annotations

import torch

TOLERANCES = {
    torch.float64: dict(rtol=1e-9, atol=1e-10),
    torch.float32: dict(rtol=1e-5, atol=1e-6),
    torch.bfloat16: dict(rtol=2e-2, atol=2e-2),
    torch.float16: dict(rtol=5e-3, atol=5e-3),
}


def assert_close(actual, expected, dtype=None, **overrides):
    """``torch.testing.assert_close`` with tolerances chosen by ``dtype`` (default: actual's)."""
    actual = torch.as_tensor(actual)
    if not isinstance(expected, torch.Tensor):
        expected = torch.tensor(expected, dtype=torch.float64)
    tol = dict(TOLERANCES[dtype or actual.dtype])
    tol.update(overrides)
    torch.testing.assert_close(actual, expected.to(actual.dtype), **tol)


def randn(*shape, seed=0, dtype=torch.float64, requires_grad=False):
    """A seeded standard-normal tensor (independent of the global RNG)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype)
    return x.requires_grad_(requires_grad)


def randint(high, *shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, high, shape, generator=g)


def unit(x):
    """Row-normalise in float64 (reference implementations do their own normalisation)."""
    return x / x.norm(dim=-1, keepdim=True)


def grads(fn, *inputs):
    """Gradients of ``fn(*inputs)`` w.r.t. every input (inputs are cloned to fresh leaves)."""
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    out = fn(*leaves)
    return out.detach(), torch.autograd.grad(out, leaves)


#: ``(call, argument named in the error)`` for losses called as ``loss(z1, z2)`` with ``N >= 2``.
TWO_VIEW_BAD_INPUTS = [
    (lambda l: l(randn(4, 3), randn(5, 3)), "z2"),
    (lambda l: l(randn(4, 3), randn(4, 2)), "z2"),
    (lambda l: l(randn(4), randn(4)), "z1"),
    (lambda l: l(randn(4, 3), randn(4, 3, 1)), "z2"),
    (lambda l: l(randn(1, 3), randn(1, 3)), "z1"),
    (lambda l: l(torch.full((4, 3), float("nan")), randn(4, 3)), "z1"),
    (lambda l: l(randn(4, 3), randn(4, 3).index_fill(0, torch.tensor([1]), float("inf"))), "z2"),
    (lambda l: l(randn(4, 3), torch.ones(4, 3, dtype=torch.long)), "z2"),
]


def assert_same(ours, ref, *inputs):
    """``ours(*inputs)`` equals ``ref(*inputs)`` in value and in the gradient of every input."""
    value, g = grads(ours, *inputs)
    ref_value, ref_g = grads(ref, *inputs)
    assert_close(value, ref_value)
    for a, b in zip(g, ref_g):
        assert_close(a, b)


#: How far a loss on half-precision inputs may sit from the same loss on those (already rounded) inputs
#: in float32. The losses compute in float32, so the value may differ only by float32 rounding, and each
#: input gradient only by its one rounding back to the input dtype: at most the dtype's unit roundoff
#: (2^-8 for bfloat16, 2^-11 for float16) relative to the entry, plus the spacing of its subnormals.
LOW_PRECISION = {
    torch.bfloat16: dict(value=dict(rtol=1e-5, atol=1e-5), grad=dict(rtol=2.0**-8, atol=2.0**-133)),
    torch.float16: dict(value=dict(rtol=1e-5, atol=1e-5), grad=dict(rtol=2.0**-11, atol=2.0**-24)),
}


def low_precision_errors(fn, *inputs):
    """``(value, ref_value, grads, ref_grads)``: ``fn`` and its gradients on half-precision ``inputs``, and
    on the same values cast to float32 (integer inputs are passed through unchanged)."""
    leaves = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
    wide = [x.detach().float().requires_grad_(True) if x.is_floating_point() else x for x in inputs]
    out, ref = fn(*leaves), fn(*wide)
    g = torch.autograd.grad(out, [x for x in leaves if x.requires_grad])
    ref_g = torch.autograd.grad(ref, [x for x in wide if x.requires_grad])
    return out.detach(), ref.detach(), g, ref_g


def assert_low_precision_matches_float32(fn, *inputs):
    """``fn(*inputs)`` on bf16/fp16 inputs returns float32 and matches ``fn`` on the same values in float32,
    in value and in every input gradient (which comes back in the input dtype), within ``LOW_PRECISION``."""
    dtype = next(x.dtype for x in inputs if x.is_floating_point())
    out, ref, g, ref_g = low_precision_errors(fn, *inputs)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    torch.testing.assert_close(out, ref, **LOW_PRECISION[dtype]["value"])
    for a, b in zip(g, ref_g):
        assert a.dtype == dtype and torch.isfinite(a).all()
        torch.testing.assert_close(a.float(), b, **LOW_PRECISION[dtype]["grad"])
