"""Per-pair cost of catalogue losses against streaming InfoNCE, side by side in one process.

Each loss runs forward+backward on the same ``(N, d)`` inputs in one thread, alternating the order
every repeat so that load from other processes hits all alike; the table gives the median time and
``(time / pairs) / (InfoNCE time / N^2)``. ``SigLIP (general path)`` is SigLIP with the engine's
pair fast path switched off (the code path the earlier 1.81x measurement ran on).

Usage: ``python benchmarks/catalogue_pairs.py [N] [d] [repeats]`` (default 4096 128 3).
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

import contrastkit.engine.streaming as streaming
import contrastkit.losses as L

QUEUE_ROWS = 4096


def cases(n: int, d: int, gen: torch.Generator, queries: torch.Tensor) -> dict:
    """name -> (step(q, k), pairs scored)."""
    queue = torch.randn(QUEUE_ROWS, d, generator=gen)
    nnclr = L.NNCLR(d, support_size=QUEUE_ROWS, backend="streaming")
    nnclr.support.push(queue)
    cluster = L.ClusterNS(16, backend="streaming")
    infonce = L.InfoNCE(0.07, backend="streaming")
    siglip = L.SigLIP(backend="streaming")
    moco = L.MoCoHNF(top_k=256)
    claif, scav = L.CLAIF(backend="streaming"), L.SCAV(backend="streaming")
    torch.manual_seed(1)
    swav = L.SwAV(d, num_prototypes=3000)
    duplicates = queue.clone()  # the duplicate filter drops these (its mask path runs)
    duplicates[: n // 8] = queries[: n // 8] + 0.01 * duplicates[: n // 8]
    scores = torch.rand(n, generator=gen)
    fast = streaming.pair_fast_applicable

    def general_siglip(q, k):
        streaming.pair_fast_applicable = lambda *args: False
        try:
            return siglip(q, k)
        finally:
            streaming.pair_fast_applicable = fast

    return {
        "InfoNCE": (infonce, n * n),
        "InfoNCE false_negative_margin=0.1": (L.InfoNCE(0.07, backend="streaming", false_negative_margin=0.1),
                                              n * n),
        "InfoNCE false_negative_threshold=0.8": (
            L.InfoNCE(0.07, backend="streaming", false_negative_threshold=0.8), n * n),
        "SigLIP": (siglip, n * n),
        "SigLIP (general path)": (general_siglip, n * n),
        "NNCLR": (lambda q, k: nnclr(q, k, update=False), 2 * n * n),
        "ClusterNS (16 clusters)": (cluster, n * n),
        "MoCoHNF (top_k=256)": (lambda q, k: moco(q, k, queue), n * QUEUE_ROWS),
        "MoCoHNF (top_k=256, N/8 near-duplicates in the queue)": (lambda q, k: moco(q, k, duplicates),
                                                                  n * QUEUE_ROWS),
        "SwAV (3000 prototypes, 2 crops)": (lambda q, k: swav([q, k]), 2 * n * 3000),
        "CLAIF": (lambda q, k: claif(q, k, scores), n * n),
        "SCAV (4 steps of d/4)": (lambda q, k: scav(q.view(n, 4, -1), k.view(n, 4, -1)), n * n),
    }


def main() -> None:
    n, d, repeats = (int(x) for x in (sys.argv[1:] + ["4096", "128", "3"][len(sys.argv) - 1:]))
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    q0 = torch.randn(n, d, generator=gen)
    k0 = q0 + 0.5 * torch.randn(n, d, generator=gen)
    table = cases(n, d, gen, q0)
    times: dict[str, list[float]] = {name: [] for name in table}
    for r in range(repeats):
        for name in (list(table) if r % 2 == 0 else list(table)[::-1]):
            q, k = q0.clone().requires_grad_(True), k0.clone().requires_grad_(True)
            start = time.perf_counter()
            table[name][0](q, k).backward()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["InfoNCE"]) / table["InfoNCE"][1]
    print("| loss | N | d | fwd+bwd s (median) | per pair / streaming InfoNCE |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (_, pairs) in table.items():
        median = statistics.median(times[name])
        print(f"| {name} | {n} | {d} | {median:.3f} | {median / pairs / base:.2f} |")


if __name__ == "__main__":
    main()
