"""The fused Triton path (contrastkit.engine.triton_backend) against the reference backend.

No GPU is needed: tests/engine/_triton_worker.py runs every case once in a subprocess under the
Triton interpreter (``TRITON_INTERPRET=1``, which must be set before Triton is imported) with the
engine's opt-in ``CONTRASTKIT_TRITON_INTERPRET=1``; the comparisons happen here. Shapes are tiny and
not multiples of the interpreter's 16 x 16 tiles.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from contrastkit.engine import PairStructure
from contrastkit.engine.triton_backend import triton_applicable
from tests.helpers import assert_close

ROOT = Path(__file__).resolve().parents[2]
needs_triton = pytest.mark.skipif(importlib.util.find_spec("triton") is None,
                                  reason="triton is not installed (the fused path falls back to torch)")
CASES = ("5x7_d16", "33x17_d32_self", "17x33_d3_cols", "20_same_self", "18_same", "4x1_all_excluded",
         "bf16_9x21", "fp16_9x21")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    path = tmp_path_factory.mktemp("triton") / "results.pt"
    env = dict(os.environ, TRITON_INTERPRET="1", CONTRASTKIT_TRITON_INTERPRET="1",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, str(ROOT / "tests/engine/_triton_worker.py"), str(path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return torch.load(path, weights_only=True)


@needs_triton
@pytest.mark.parametrize("case", CASES)
def test_values_and_gradients_match_reference(results, case):
    result = results[case]
    assert result["fused_calls"] == 1, "the fused Triton path did not run"
    fused, reference = result["triton"], result["reference"]
    assert fused.keys() == reference.keys()
    for name, expected in reference.items():
        actual = fused[name]
        assert actual.dtype == expected.dtype, name
        if actual.dtype in (torch.bfloat16, torch.float16):
            assert torch.isfinite(actual).all(), name
        if actual.dtype == torch.float32:
            # 1e-5 relative to the tensor's largest entry: a gradient entry is a sum of O(N + M)
            # terms with cancellation, so its float32 rounding scales with the largest terms.
            finite = expected[torch.isfinite(expected)]
            peak = float(finite.abs().max()) if finite.numel() else 0.0
            assert_close(actual, expected, rtol=1e-5, atol=1e-5 * peak + 1e-6)
        else:
            assert_close(actual, expected)


@needs_triton
def test_every_row_excluded_gives_minus_infinity_and_zero_gradient(results):
    fused = results["4x1_all_excluded"]["triton"]
    assert torch.isneginf(fused["lse_all"]).all() and torch.isneginf(fused["col_lse_all"]).all()
    assert all((fused[k] == 0).all() for k in fused if k.startswith("grad"))


@needs_triton
def test_losses_through_the_fused_path_match_reference(results):
    result = results["losses"]
    assert result["fused_calls"] >= 2
    for name, expected in result["reference"].items():
        for actual, want in zip(result["triton"][name], expected):
            assert_close(actual, want)


def test_applicability_rules(monkeypatch):
    a, c = torch.randn(4, 8), torch.randn(5, 8)
    plain = PairStructure(4, 5, pos_index=torch.arange(4))
    lse = frozenset({"lse_all"})
    monkeypatch.delenv("CONTRASTKIT_TRITON_INTERPRET", raising=False)
    assert not triton_applicable(a, c, plain, lse, frozenset(), None)  # CPU without the opt-in
    monkeypatch.setenv("CONTRASTKIT_TRITON_INTERPRET", "1")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    has_triton = importlib.util.find_spec("triton") is not None
    assert triton_applicable(a, c, plain, lse, frozenset(), None) == has_triton
    monkeypatch.setenv("CONTRASTKIT_TRITON", "0")
    assert not triton_applicable(a, c, plain, lse, frozenset(), None)
    monkeypatch.delenv("CONTRASTKIT_TRITON")
    labelled = PairStructure(4, 5, anchor_labels=torch.zeros(4), candidate_labels=torch.zeros(5))
    assert not triton_applicable(a, c, labelled, lse, frozenset(), None)
    assert not triton_applicable(a, c, plain, frozenset({"lse_neg"}), frozenset(), None)
    assert not triton_applicable(a, c, plain, lse, frozenset(), torch.randn(4, 2, 8))
    assert not triton_applicable(a.double(), c.double(), plain, lse, frozenset(), None)
    assert not triton_applicable(torch.randn(4, 300), torch.randn(5, 300), plain, lse, frozenset(), None)


def test_import_does_not_import_triton():
    code = ("import sys, contrastkit, contrastkit.engine, contrastkit.losses; "
            "assert 'triton' not in sys.modules")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def test_kernel_module_imports_without_triton():
    code = ("import sys; sys.modules['triton'] = None; import contrastkit.engine._triton_kernels; "
            "from contrastkit.engine.triton_backend import triton_applicable; import torch; "
            "from contrastkit.engine import PairStructure; a = torch.randn(3, 4); "
            "assert not triton_applicable(a, a, PairStructure(3, 3), frozenset({'lse_all'}), "
            "frozenset(), None)")
    env = dict(os.environ, CONTRASTKIT_TRITON_INTERPRET="1", TRITON_INTERPRET="1",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
