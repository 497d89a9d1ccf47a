"""Forward+backward time and peak memory of contrastive losses as the batch grows.

Every configuration runs in a fresh subprocess (so peak memory is its own), with an address-space
cap and a timeout; configurations whose estimated memory exceeds the cap are recorded as skipped.
Three kinds of measurement:

* ``scaling``: each implementation alone at each (N, d): peak memory added by one forward+backward
  (peak RSS over the RSS after building the inputs on CPU, ``max_memory_allocated`` on CUDA) and the
  median time of the repeats, alternated in the same process with the roofline matmul
  ``(N x d) @ (d x N)``; ``fraction of roofline = 3 * t_matmul / t_loss`` (a materialised
  forward+backward needs three such matmuls);
* ``ratio``: plain torch InfoNCE and contrastkit streaming alternated in one process (CPU load from
  other processes hits both alike), the targets' ``streaming / plain`` time ratio;
* ``catalogue``: other losses of the catalogue on the streaming engine against streaming InfoNCE.

Usage: ``python benchmarks/loss_scaling.py [--quick] [--ns 1024,4096] [--dims 128,768]
[--out results.json]``; prints a markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30

# Estimated peak bytes beyond the inputs (used to skip what cannot fit); n = rows per view.
ESTIMATES = {
    "contrastkit-reference": lambda n, d: 40 * n * n,
    "contrastkit-streaming": lambda n, d: 24 * n * d + 64 * 2**20,
    "torch-plain": lambda n, d: 20 * n * n,
    "pml-NTXentLoss": lambda n, d: 17 * n**3,  # pairs x pairs masks: O(N^3)
    "pml-SupConLoss": lambda n, d: 64 * n * n,
    "open_clip-ClipLoss": lambda n, d: 24 * n * n,
    "lightly-NTXentLoss": lambda n, d: 64 * n * n,
}
CATALOGUE = [("InfoNCE", {}), ("InfoNCE", {"symmetric": True}), ("NTXent", {}), ("SupCon", {}),
             ("DCL", {}), ("HardNegativeContrastive", {"beta": 1.0}), ("SigLIP", {}),
             ("InfoNCE", {"false_negative_margin": 0.1}), ("InfoNCE", {"false_negative_threshold": 0.8}),
             ("NNCLR", {}), ("ClusterNS", {"num_clusters": 16}), ("MoCoHNF", {"top_k": 256}),
             ("SwAV", {"num_prototypes": 3000}), ("BarlowTwins", {}), ("VICReg", {})]
#: support set / queue rows of the catalogue's NNCLR and MoCoHNF.
QUEUE_ROWS = 4096
#: scored pairs per forward, as a multiple of N^2 (or, for the queue losses, of N * QUEUE_ROWS; for SwAV,
#: 2 crops x N x its prototypes), for the per-pair column; None: not a pair statistic (batch covariance).
PAIRS = {"InfoNCE": 1, "NTXent": 4, "SupCon": 4, "DCL": 4, "HardNegativeContrastive": 4, "SigLIP": 1,
         "NNCLR": 2, "ClusterNS": 1, "MoCoHNF": "queue", "SwAV": "prototypes", "BarlowTwins": None,
         "VICReg": None}


def pairs_of(key: str, n: int):
    name, options = key.split(":", 1)[-1].split("|")[0], key.split("|")[1] if "|" in key else "{}"
    factor = PAIRS.get(name)
    if factor == 1 and json.loads(options).get("symmetric"):
        factor = 2
    if factor == "prototypes":
        return 2 * n * json.loads(options)["num_prototypes"]
    return None if factor is None else (n * QUEUE_ROWS if factor == "queue" else factor * n * n)


# ----------------------------------------------------------------------------- worker side
def build(name: str, n: int, device, options: dict | None = None):
    """A function ``step(q, k)`` running one forward+backward of implementation ``name``."""
    import torch
    import torch.nn.functional as F

    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    labels = torch.arange(n, device=device)
    if name == "torch-plain":
        def plain(q, k):
            logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / 0.07
            return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        return plain
    if name.startswith("contrastkit-"):
        from contrastkit.losses import InfoNCE
        return InfoNCE(0.07, symmetric=True, backend=name.split("-")[1])
    if name.startswith("catalogue:"):
        import contrastkit.losses as losses
        cls = getattr(losses, name.split(":")[1])
        loss = cls(**(options or {}), backend="streaming")
        if cls.__name__ == "SupCon":
            classes = torch.arange(n, device=device) % max(2, n // 8)
            return lambda q, k: loss(torch.stack([q, k], 1), classes)
        return loss
    if name.startswith("queued:"):  # losses that need the feature size or a queue
        import contrastkit.losses as losses
        cls, state = getattr(losses, name.split(":")[1]), {}

        def queued(q, k):
            if not state:
                gen = torch.Generator(device="cpu").manual_seed(1)
                state["queue"] = torch.randn(QUEUE_ROWS, q.shape[1], generator=gen).to(device)
                if cls.__name__ == "NNCLR":
                    state["loss"] = cls(q.shape[1], support_size=QUEUE_ROWS, backend="streaming")
                    state["loss"].support.push(state["queue"])
                else:
                    state["loss"] = cls(**(options or {}))
            if cls.__name__ == "NNCLR":
                return state["loss"](q, k, update=False)
            return state["loss"](q, k, state["queue"])
        return queued
    if name.startswith("crops:"):  # SwAV: the two inputs are two crops; prototypes sized by d
        import contrastkit.losses as losses
        cls, state = getattr(losses, name.split(":")[1]), {}

        def crops(q, k):
            if not state:
                torch.manual_seed(1)
                state["loss"] = cls(q.shape[1], **(options or {})).to(device)
            return state["loss"]([q, k])
        return crops
    if name.startswith("plain:"):  # losses without an engine backend
        import contrastkit.losses as losses
        return getattr(losses, name.split(":")[1])(**(options or {}))
    from tests.anchors import lightly_loss, open_clip_loss, pml_losses
    if name.startswith("pml-"):
        loss = getattr(pml_losses(), name[4:])(temperature=0.07)
        both = torch.cat([labels, labels])
        return lambda q, k: loss(torch.cat([q, k]), both)
    if name == "open_clip-ClipLoss":
        loss = open_clip_loss().ClipLoss()
        return lambda q, k: loss(F.normalize(q, dim=1), F.normalize(k, dim=1), 1 / 0.07)
    if name == "lightly-NTXentLoss":
        return lightly_loss("ntx_ent_loss").NTXentLoss(temperature=0.07)
    raise ValueError(f"unknown implementation {name}")


def rss_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def worker(spec: dict) -> dict:
    import torch

    torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    n, d = spec["n"], spec["d"]
    gen = torch.Generator(device="cpu").manual_seed(0)
    q0 = torch.randn(n, d, generator=gen).to(device)
    k0 = torch.randn(n, d, generator=gen).to(device)
    steps = {name: build(name.split("|")[0], n, device, spec.get("options", {}).get(name))
             for name in spec["impls"]}
    cuda = device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def leaves():
        return q0.clone().requires_grad_(True), k0.clone().requires_grad_(True)

    def run(name, inputs=None):
        q, k = inputs or leaves()
        sync()
        start, cpu_start = time.perf_counter(), time.process_time()
        if name == "matmul":
            if n * n * 4 <= GIB:
                q0 @ k0.T
            else:  # the same flops in row blocks, so that the roofline itself fits in memory
                block = torch.empty(GIB // (4 * n), n, device=device)
                for r0 in range(0, n, block.shape[0]):
                    rows = q0[r0:r0 + block.shape[0]]
                    torch.mm(rows, k0.T, out=block[: rows.shape[0]])
        else:
            steps[name](q, k).backward()
        sync()
        cpu[name].append(time.process_time() - cpu_start)
        return time.perf_counter() - start

    out: dict = {}
    cpu: dict[str, list[float]] = {name: [] for name in [*spec["impls"], "matmul"]}
    if spec.get("memory"):
        (name,) = spec["impls"]
        inputs = leaves()  # the loss's own inputs are not counted as its memory
        if cuda:
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
        else:
            try:  # reset the peak-RSS counter (Linux >= 4.0)
                Path("/proc/self/clear_refs").write_text("5")
            except OSError:
                pass
            before = rss_bytes("VmRSS:")
        out["first_s"] = run(name, inputs)
        del inputs
        after = torch.cuda.max_memory_allocated() if cuda else rss_bytes("VmHWM:")
        out["peak_extra_bytes"] = after - before
    times: dict[str, list[float]] = {name: [] for name in [*spec["impls"], "matmul"]}
    cpu = {name: [] for name in times}  # (the memory run's first call is not a repeat)
    for repeat in range(spec["repeats"]):
        # every other repeat in reverse order, so that load from other processes drifting over the
        # run hits early and late implementations alike
        for name in (list(times) if repeat % 2 == 0 else list(times)[::-1]):
            times[name].append(run(name))
    out["median_s"] = {name: statistics.median(v) for name, v in times.items() if v}
    # CPU seconds of this process: with one thread, not stretched by other processes' load
    out["cpu_median_s"] = {name: statistics.median(v) for name, v in cpu.items() if v}
    return out


# ----------------------------------------------------------------------------- driver side
def launch(spec: dict, cap_bytes: int, timeout: float) -> dict:
    def limit():
        # address-space cap: the estimate's cap plus room for the interpreter and libraries
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes + 6 * GIB, cap_bytes + 6 * GIB))

    env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]), PYTHONPATH=str(ROOT / "src"))
    try:
        proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], env=env,
                              capture_output=True, text=True, timeout=timeout,
                              preexec_fn=limit if spec["device"] == "cpu" else None)
    except subprocess.TimeoutExpired:
        return {"status": f"timeout > {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        oom = "memory" in tail[0].lower() or proc.returncode in (-9, 137)
        return {"status": "OOM" if oom else "error: " + tail[0][:120]}
    return {"status": "ok", **json.loads(proc.stdout.strip().splitlines()[-1])}


def available(name: str) -> bool:
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    if name.startswith("pml-"):
        from tests.anchors import pml_losses
        return pml_losses() is not None
    if name.startswith("open_clip"):
        from tests.anchors import open_clip_loss
        return open_clip_loss() is not None
    if name.startswith("lightly"):
        from tests.anchors import lightly_loss
        return lightly_loss("ntx_ent_loss") is not None
    if name.split(":")[0] in ("catalogue", "queued", "plain", "crops"):
        import contrastkit.losses as losses
        return hasattr(losses, name.split(":")[1].split("|")[0])
    return True


def gib(x):
    return f"{x / GIB:.3f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--worker")
    p.add_argument("--quick", action="store_true", help="N in {1024, 2048}, d=128, 2 repeats")
    p.add_argument("--ns", default="1024,4096,16384,65536,262144")
    p.add_argument("--dims", default="128,768")
    p.add_argument("--impls", default=",".join(ESTIMATES))
    p.add_argument("--kinds", default="scaling,ratio,catalogue")
    p.add_argument("--catalogue-ns", default="8192")
    p.add_argument("--ratio-ns", default="8192,16384,32768")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--cap-gib", type=float, default=8.0, help="skip configurations estimated above this")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per subprocess")
    p.add_argument("--out", default="loss_scaling.json")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.quick:
        args.ns, args.dims, args.repeats = "1024,2048", "128", 2
        args.ratio_ns = args.catalogue_ns = "2048"
    cap = int(args.cap_gib * GIB)
    base = dict(threads=args.threads, device=args.device, repeats=args.repeats)
    rows, kinds = [], args.kinds.split(",")
    dims = [int(x) for x in args.dims.split(",")]
    if "scaling" in kinds:
        for d in dims:
            for n in [int(x) for x in args.ns.split(",")]:
                for name in args.impls.split(","):
                    row = dict(kind="scaling", impl=name, n=n, d=d)
                    if not available(name):
                        row["status"] = "not installed"
                    elif ESTIMATES[name](n, d) > cap:
                        row["status"] = f"skipped (est. {gib(ESTIMATES[name](n, d))} GiB > cap)"
                    else:
                        row.update(launch(dict(base, impls=[name], n=n, d=d, memory=True), cap, args.timeout))
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    for kind, ns, names in (("ratio", args.ratio_ns, ["torch-plain", "contrastkit-streaming"]),
                            ("catalogue", args.catalogue_ns, None)):
        if kind not in kinds:
            continue
        for d in dims:
            for n in [int(x) for x in ns.split(",")]:
                options = {}
                if names is None:
                    names = []
                    for cls, opts in CATALOGUE:
                        prefix = {"NNCLR": "queued", "MoCoHNF": "queued", "BarlowTwins": "plain",
                                  "VICReg": "plain", "SwAV": "crops"}.get(cls, "catalogue")
                        key = f"{prefix}:{cls}|{json.dumps(opts, sort_keys=True)}"
                        if available(key):
                            names.append(key)
                            options[key] = opts
                fits = [x for x in names if ESTIMATES.get(x, ESTIMATES["contrastkit-streaming"])(n, d) <= cap]
                row = dict(kind=kind, n=n, d=d, impls=fits)
                row.update(launch(dict(base, impls=fits, n=n, d=d, options=options), cap, args.timeout))
                rows.append(row)
                print(json.dumps(row), flush=True)
                names = None if kind == "catalogue" else names
    Path(args.out).write_text(json.dumps(dict(args=vars(args), rows=rows), indent=1))
    print(markdown(rows))


def markdown(rows) -> str:
    lines = ["| impl | N | d | fwd+bwd s | peak extra MiB | roofline fraction | status |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in (r for r in rows if r["kind"] == "scaling"):
        if r.get("status") == "ok" and r["median_s"]:
            t, mm = r["median_s"][r["impl"]], r["median_s"]["matmul"]
            lines.append(f"| {r['impl']} | {r['n']} | {r['d']} | {t:.3f} | "
                         f"{r['peak_extra_bytes'] / 2**20:.0f} | {3 * mm / t:.2f} | ok |")
        elif r.get("status") == "ok":  # memory only (--repeats 0)
            lines.append(f"| {r['impl']} | {r['n']} | {r['d']} | {r['first_s']:.3f} (one run) | "
                         f"{r['peak_extra_bytes'] / 2**20:.0f} | | ok |")
        else:
            lines.append(f"| {r['impl']} | {r['n']} | {r['d']} | | | | {r.get('status')} |")
    lines += ["", "| kind | N | d | times (s, median) | ratios to first | per pair, to first "
              "| x of 3 matmuls |",
              "| --- | ---: | ---: | --- | --- | --- | --- |"]
    for r in (r for r in rows if r["kind"] != "scaling"):
        if r.get("status") != "ok":
            lines.append(f"| {r['kind']} | {r['n']} | {r['d']} | {r.get('status')} | | | |")
            continue
        med = r["median_s"]
        first = med[r["impls"][0]]
        times = ", ".join(f"{k.split('|')[0]} {v:.3f}" for k, v in med.items())
        ratios = ", ".join(f"{k.split('|')[0]} {v / first:.2f}" for k, v in med.items() if k != "matmul")
        roof = ", ".join(f"{k.split('|')[0]} {v / (3 * med['matmul']):.2f}"
                         for k, v in med.items() if k != "matmul")
        per_pair = ""
        if r["kind"] == "catalogue":
            base = first / pairs_of(r["impls"][0], r["n"])
            per_pair = ", ".join(f"{k.split(':', 1)[1]} {v / pairs_of(k, r['n']) / base:.2f}"
                                 for k, v in med.items()
                                 if k != "matmul" and pairs_of(k, r["n"]))
            cpu = r.get("cpu_median_s")
            if cpu:
                cpu_base = cpu[r["impls"][0]] / pairs_of(r["impls"][0], r["n"])
                per_pair += "; CPU time: " + ", ".join(
                    f"{k.split(':', 1)[1]} {v / pairs_of(k, r['n']) / cpu_base:.2f}"
                    for k, v in cpu.items() if k != "matmul" and pairs_of(k, r["n"]))
        lines.append(f"| {r['kind']} | {r['n']} | {r['d']} | {times} | {ratios} | {per_pair} | {roof} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
