"""Speed and memory of kNN accuracy and retrieval metrics at 100k x 384: contrastkit's chunked
exact search against a plain materialised baseline (the whole ``Q x M`` similarity matrix) and the
FAISS backend (``IndexFlatIP``). Also times uniformity and effective rank on the 100k corpus, which
a materialised ``N x N`` computation could not hold (40 GB in float32).

Each case runs in a fresh process; "peak MiB" is the growth of the process's peak resident memory
during the call (``ru_maxrss``), beyond the inputs (built in slices, so the peak before the call is
the resident size of the inputs; both are in the JSON). Prints a markdown table with ratios to the
chunked exact path and writes JSON. Takes a few minutes on two cores; it is not a test.

    python benchmarks/evaluate_speed.py [--corpus 100000] [--queries 10000] [--dim 384]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import resource
import time
from pathlib import Path

import numpy as np
import torch

KS = (1, 10, 100)


def make_data(corpus_size: int, num_queries: int, dim: int, classes: int = 100, seed: int = 0):
    """Clustered unit-scale data: corpus rows around ``classes`` centres; query i is a noisy copy
    of corpus row i (its one relevant item), with that row's class."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g)
    labels = torch.randint(0, classes, (corpus_size,), generator=g)
    corpus = torch.empty(corpus_size, dim)
    for start in range(0, corpus_size, 8192):  # in slices, so no transient peak hides the metric's
        rows = slice(start, min(start + 8192, corpus_size))
        corpus[rows] = centres[labels[rows]] + 2.0 * torch.randn(corpus[rows].shape, generator=g)
    queries = corpus[:num_queries] + 1.0 * torch.randn(num_queries, dim, generator=g)
    return corpus, labels, queries, labels[:num_queries].clone()


def materialised_top_k(queries, corpus, k):
    """The plain baseline: the full ``Q x M`` cosine matrix, then ``topk``."""
    q = torch.nn.functional.normalize(queries, dim=1)
    c = torch.nn.functional.normalize(corpus, dim=1)
    scores = q @ c.T  # (Q, M), materialised
    return scores.topk(k, dim=1)


def baseline_knn(corpus, labels, queries, query_labels, k=20, temperature=0.07):
    values, index = materialised_top_k(queries, corpus, k)
    weights = torch.exp((values - values[:, :1]) / temperature)
    votes = torch.zeros(queries.shape[0], int(labels.max()) + 1).scatter_add_(1, labels[index], weights)
    return float((votes.argmax(1) == query_labels).double().mean())


def baseline_retrieval(corpus, queries, ks=KS):
    _, index = materialised_top_k(queries, corpus, max(ks))
    target = torch.arange(queries.shape[0]).unsqueeze(1)
    hit = (index == target).double()  # one relevant item per query
    ranks = torch.arange(1, max(ks) + 1, dtype=torch.float64)
    out = {}
    for k in ks:
        h = hit[:, :k]
        out[f"recall@{k}"] = float(h.sum(1).mean())
        out[f"mrr@{k}"] = float((h / ranks[:k]).sum(1).mean())
        out[f"ndcg@{k}"] = float((h / torch.log2(ranks[:k] + 1)).sum(1).mean())
        out[f"map@{k}"] = out[f"mrr@{k}"]
    return out


def run_case(name: str, sizes: dict, queue) -> None:
    from contrastkit import evaluate

    corpus, labels, queries, query_labels = make_data(**sizes)
    relevant = [{i} for i in range(queries.shape[0])]
    cases = {
        "knn/exact": lambda: evaluate.knn_accuracy(corpus, labels, queries, query_labels, k=20),
        "knn/faiss": lambda: evaluate.knn_accuracy(corpus, labels, queries, query_labels, k=20,
                                                   backend="faiss"),
        "knn/materialised": lambda: baseline_knn(corpus, labels, queries, query_labels),
        "retrieval/exact": lambda: evaluate.retrieval_metrics(queries, corpus, relevant, KS),
        "retrieval/faiss": lambda: evaluate.retrieval_metrics(queries, corpus, relevant, KS, backend="faiss"),
        "retrieval/materialised": lambda: baseline_retrieval(corpus, queries),
        "uniformity/exact": lambda: evaluate.uniformity(corpus),
        "effective_rank/exact": lambda: evaluate.effective_rank(corpus),
    }
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    resident = _resident_mib()
    start = time.perf_counter()
    result = cases[name]()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"case": name, "seconds": seconds, "peak_mib": (peak - before) / 1024,
               "resident_before_mib": resident, "peak_before_mib": before / 1024, "result": result})


def _resident_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def measure(name: str, sizes: dict) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=run_case, args=(name, sizes, queue))
    process.start()
    out = queue.get()
    process.join()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--skip-uniformity", action="store_true")
    default_json = Path(__file__).parent / "results" / "evaluate_speed.json"
    parser.add_argument("--json", type=Path, default=default_json)
    args = parser.parse_args()
    sizes = {"corpus_size": args.corpus, "num_queries": args.queries, "dim": args.dim}

    names = ["knn/exact", "knn/materialised", "knn/faiss",
             "retrieval/exact", "retrieval/materialised", "retrieval/faiss", "effective_rank/exact"]
    if not args.skip_uniformity:
        names.append("uniformity/exact")
    rows = []
    for name in names:
        row = measure(name, sizes)
        rows.append(row)
        print(f"done {name}: {row['seconds']:.1f} s", flush=True)

    exact = {r["case"].split("/")[0]: r for r in rows if r["case"].endswith("/exact")}
    print(f"\n{args.queries} queries x {args.corpus} corpus x {args.dim} dims, float32, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| task | method | time (s) | time / exact | peak extra MiB | same result as exact |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for r in rows:
        task, method = r["case"].split("/")
        ref = exact[task]
        same = "n/a" if method == "exact" else ("yes" if r["result"] == ref["result"] else
                                                f"no ({r['result']} vs {ref['result']})")
        r["time_ratio"] = r["seconds"] / ref["seconds"]
        print(f"| {task} | {method} | {r['seconds']:.2f} | {r['time_ratio']:.2f} | {r['peak_mib']:.0f} "
              f"| {same} |")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {"sizes": sizes, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "machine": platform.platform(), "numpy": np.__version__}
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2, default=float))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
