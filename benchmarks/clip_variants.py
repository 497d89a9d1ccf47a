"""The clip-fashion-mnist recipe in four variants on ONE short schedule (not the recipe's own):
CLIP with the frozen MiniLM text tower (the recipe), SigLIP (t = 10, b = -10), CLIP with the text
tower trained (its own lr), and the trained tower plus the MCSE term (unsupervised SimCSE on the
captions, the caption-image CLIP loss at weight lambda, docs/image_text.md). Every run: seed 0,
one thread, batch --batch-size, --steps steps, the checkpoint selected (every steps / 2) on the
seen-class zero-shot accuracy of 500 validation images, the zero-shot table on the official
10,000 test images. With --probe, linear probes (official test set, trained on the first 10,000
official training images of all classes) of raw pixels (once) and of each run's image-tower
representation.

    PYTHONPATH=src python benchmarks/clip_variants.py clip siglip trained mcse --probe

Writes benchmarks/results/clip_variants.json after each variant (variants already there are kept
and skipped; --force runs them again) and prints one JSON line per variant.
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from pathlib import Path

import torch

from contrastkit.data import CaptionSpec, fashion_mnist_captions
from contrastkit.evaluate import linear_probe
from contrastkit.recipes import train
from contrastkit.recipes.catalogue import recipe_text
from contrastkit.recipes.finish import load_selected_model
from contrastkit.train.config import parse_toml, validate_config
from contrastkit.train.rundir import RunDir

OUTPUT = Path("benchmarks/results/clip_variants.json")
KEPT = ("accuracy", "seen_accuracy", "unseen_accuracy", "unseen_accuracy_among_unseen",
        "text_to_image_hit@1", "text_to_image_hit@5", "text_to_image_hit@10", "text_to_image_ndcg@10",
        "image_to_text_hit@1", "image_to_text_hit@5", "image_to_text_hit@10", "image_to_text_ndcg@10")


def config(kind: str, args) -> dict:
    d = parse_toml(recipe_text("clip-fashion-mnist"))
    d["run"].update(output_dir=str(args.runs), threads=args.threads)
    d["train"].update(batch_size=args.batch_size, max_steps=args.steps, eval_every=max(1, args.steps // 2),
                      report=False)
    d["eval"]["max_samples"] = 500  # validation (selection) and held-out retrieval; the test table: 10,000
    if kind == "siglip":
        d["loss"].update(name="SigLIP", temperature=0.1, inputs={"a": "image", "b": "text"})
    if kind in ("trained", "mcse"):
        d["towers"]["text"]["frozen"] = False
    if kind == "mcse":
        del d["loss"]
        d["views"] = {"name": "identity", "num_views": 2, "fields": ["text"]}
        d["objectives"] = [
            {"name": "InfoNCE", "temperature": 0.05, "inputs": {"query": "text:0", "key": "text:1"}},
            {"name": "CLIPLoss", "weight": args.mcse_weight, "temperature": 0.07,
             "inputs": {"a": "image", "b": "text:0", "ids": "group"}}]
    return d


def probe_sets(spec: CaptionSpec):
    train_set = fashion_mnist_captions(spec, "train", hold_out=False, max_samples=10000)
    test_set = fashion_mnist_captions(spec, "test", hold_out=False)
    return train_set, test_set


def probe(fn, train_set, test_set) -> float:
    with torch.no_grad():
        x = [torch.cat([fn(s.images[i:i + 1000]) for i in range(0, len(s.images), 1000)])
             for s in (train_set, test_set)]
    return round(linear_probe(x[0], train_set.labels, x[1], test_set.labels), 4)


NAMES = {"clip": "CLIP, frozen MiniLM (the recipe)", "siglip": "SigLIP, frozen MiniLM",
         "trained": "CLIP, MiniLM trained",
         "mcse": "SimCSE on captions + CLIP at weight λ = {}, MiniLM trained (MCSE)"}


def markdown(out: dict) -> str:
    """The comparison as a markdown table (docs/image_text.md, README)."""
    def r(row, side):
        return " / ".join(f"{row[f'{side}_hit@{k}']:.3f}" for k in (1, 5, 10))

    lines = ["| variant | seen | unseen | all | unseen among the 2 | text→image R@1/5/10 | NDCG@10 | "
             "image→text R@1/5/10 | NDCG@10 | image-tower probe | wall s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for kind, row in out.get("runs", {}).items():
        if "error" in row:
            lines.append(f"| {NAMES.get(kind, kind)} | {row['error']} |")
            continue
        cells = [NAMES.get(kind, kind).format(row.get("mcse_weight")), *(f"{row[k]:.3f}" for k in (
            "seen_accuracy", "unseen_accuracy", "accuracy", "unseen_accuracy_among_unseen")),
            r(row, "text_to_image"), f"{row['text_to_image_ndcg@10']:.3f}", r(row, "image_to_text"),
            f"{row['image_to_text_ndcg@10']:.3f}", f"{row.get('image_tower_probe', float('nan')):.3f}",
            f"{row['seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if "raw_pixels_probe" in out:
        lines.append(f"| raw pixels (no training) | | | | | | | | | {out['raw_pixels_probe']:.3f} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", default=["clip", "siglip", "trained", "mcse"])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--mcse-weight", type=float, default=0.1, help="lambda of the caption-image term")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--probe", action="store_true")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--markdown", action="store_true", help="only print the table of --out")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument("--runs", type=Path, default=Path("runs/bench-clip-variants"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if args.markdown:
        print(markdown(out))
        return
    out.update(schedule=f"batch {args.batch_size}, {args.steps} steps, seed 0, {args.threads} thread(s)",
               machine="2 CPU cores shared with other jobs: seconds are wall time including evaluation")
    runs = out.setdefault("runs", {})
    probe_data = None
    if args.probe:
        spec = CaptionSpec.from_mapping(parse_toml(recipe_text("clip-fashion-mnist"))["data"]["captions"])
        probe_data = probe_sets(spec)
        if "raw_pixels_probe" not in out:
            out["raw_pixels_probe"] = probe(lambda x: x.flatten(1), *probe_data)
    for kind in args.variants:
        if kind in runs and "error" not in runs[kind] and not args.force:
            continue
        start = time.perf_counter()
        try:
            cfg = validate_config(config(kind, args))
            r = train(cfg, f"bench-{kind}", quiet=True)
            row = {"seconds": round(time.perf_counter() - start, 1), "steps": r.steps,
                   "selected_step": r.selection["selected_step"],
                   **{k: round(r.final[f"zero_shot/{k}"], 4) for k in KEPT}}
            if probe_data is not None:
                model = load_selected_model(cfg, RunDir(r.run_dir.path), probe_data[0])
                row["image_tower_probe"] = probe(model.towers["image"].embed, *probe_data)
            runs[kind] = {**row, "mcse_weight": args.mcse_weight} if kind == "mcse" else row
        except Exception as error:  # one failing variant does not lose the others
            runs[kind] = {"error": "".join(traceback.format_exception_only(error)).strip()}
        print(json.dumps({kind: runs[kind]}), flush=True)
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(markdown(out))


if __name__ == "__main__":
    main()
