"""One short device check for a session that is lent a CUDA GPU (CI never has one).

1. Parity of the fused Triton path (``CONTRASTKIT_TRITON=1``) and the torch streaming path with the
   reference backend on CUDA: symmetric InfoNCE and NT-Xent, fp32 / bf16 / fp16, values and input
   gradients.
2. Timing, bf16, d=768: symmetric InfoNCE forward+backward on the Triton path and on the torch streaming
   path against one bf16 ``N x N x d`` matmul (the roofline), and peak loss workspace from
   ``torch.cuda.max_memory_allocated``.

Prints a markdown table and writes JSON to ``--out`` (default ``$OUT/gpu_check.json`` when ``OUT`` is
set, else ``benchmarks/results/gpu_check.json``). Without CUDA it says so and exits 0.

    python benchmarks/gpu_check.py --ns 16384,65536,262144
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from pathlib import Path

import torch

from contrastkit.losses import InfoNCE, NTXent


def parity(device: torch.device) -> list[dict]:
    rows = []
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        for name, loss_cls, kwargs in (("InfoNCE-sym", InfoNCE, {"symmetric": True}), ("NTXent", NTXent, {})):
            g = torch.Generator(device="cpu").manual_seed(0)
            q = torch.randn(3000, 96, generator=g).to(device, dtype)
            k = torch.randn(3000, 96, generator=g).to(device, dtype)
            results = {}
            for label, backend, triton in (("reference", "reference", "0"), ("streaming", "streaming", "0"),
                                           ("triton", "streaming", "1")):
                os.environ["CONTRASTKIT_TRITON"] = triton
                a, b = q.clone().requires_grad_(True), k.clone().requires_grad_(True)
                value = loss_cls(temperature=0.07, backend=backend, **kwargs)(a, b)
                value.backward()
                results[label] = (value.detach().float(), a.grad.float(), b.grad.float())
            ref = results["reference"]
            for label in ("streaming", "triton"):
                got = results[label]
                grad_err = max(float((x - y).abs().max()) for x, y in zip(got[1:], ref[1:]))
                rows.append({"loss": name, "dtype": str(dtype).split(".")[-1], "path": label,
                             "value_rel_err": float(((got[0] - ref[0]).abs() / ref[0].abs()).item()),
                             "grad_max_abs_err": grad_err})
    os.environ.pop("CONTRASTKIT_TRITON", None)
    return rows


def timed(fn, device, repeats=3) -> float:
    fn()
    torch.cuda.synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def blocked_matmul(q: torch.Tensor, k: torch.Tensor, out: torch.Tensor) -> None:
    """``q @ k.T`` in row blocks of ``out``'s height (the roofline's flops in bounded memory)."""
    n, block = q.shape[0], out.shape[0]
    for r0 in range(0, n, block):
        torch.mm(q[r0:r0 + block], k.T, out=out[: min(block, n - r0)])


def loss_step(loss, q: torch.Tensor, k: torch.Tensor) -> None:
    a, b = q.clone().requires_grad_(True), k.clone().requires_grad_(True)
    loss(a, b).backward()


def scaling(device: torch.device, ns: list[int], d: int) -> list[dict]:
    rows = []
    for n in ns:
        g = torch.Generator(device="cpu").manual_seed(0)
        q0 = torch.randn(n, d, generator=g).to(device, torch.bfloat16)
        k0 = torch.randn(n, d, generator=g).to(device, torch.bfloat16)
        out = torch.empty(min(n, 16384), n, device=device, dtype=torch.bfloat16)
        t_mm = timed(functools.partial(blocked_matmul, q0, k0, out), device)
        row = {"n": n, "d": d, "matmul_s": t_mm, "matmul_tflops": 2 * n * n * d / t_mm / 1e12}
        del out
        for label, triton in (("torch_streaming", "0"), ("triton", "1")):
            os.environ["CONTRASTKIT_TRITON"] = triton
            loss = InfoNCE(temperature=0.07, symmetric=True, backend="streaming")
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
            try:
                t = timed(functools.partial(loss_step, loss, q0, k0), device, repeats=1 if n > 100_000 else 3)
                peak = torch.cuda.max_memory_allocated(device) - base
                row[label] = {"s": t, "fraction_of_3_matmuls": 3 * t_mm / t, "workspace_gib": peak / 2**30}
            except (RuntimeError, torch.cuda.OutOfMemoryError) as error:  # report, do not crash
                row[label] = {"error": str(error).splitlines()[0]}
        rows.append(row)
    os.environ.pop("CONTRASTKIT_TRITON", None)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ns", default="16384,65536")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; nothing to check")
        return
    device = torch.device("cuda")
    report = {"device": torch.cuda.get_device_name(device), "parity": parity(device),
              "scaling": scaling(device, [int(n) for n in args.ns.split(",")], args.dim)}
    print("| loss | dtype | path | value rel err | grad max abs err |\n| --- | --- | --- | ---: | ---: |")
    for r in report["parity"]:
        print(f"| {r['loss']} | {r['dtype']} | {r['path']} | {r['value_rel_err']:.2e} "
              f"| {r['grad_max_abs_err']:.2e} |")
    print("\n| N | d | matmul TFLOP/s | path | s | 3 matmuls / time | workspace GiB |\n"
          "| ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for r in report["scaling"]:
        for label in ("torch_streaming", "triton"):
            v = r[label]
            cells = (f"{v['s']:.3f} | {v['fraction_of_3_matmuls']:.2f} | {v['workspace_gib']:.2f}"
                     if "s" in v else f"{v['error']} | | ")
            print(f"| {r['n']} | {r['d']} | {r['matmul_tflops']:.0f} | {label} | {cells} |")
    default = Path(os.environ["OUT"]) if "OUT" in os.environ else Path(__file__).parent / "results"
    out = Path(args.out) if args.out else default / "gpu_check.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
