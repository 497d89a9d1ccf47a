"""Short-schedule comparison (NOT the recipe's schedule) on Fashion-MNIST captions: the frozen
MiniLM text tower, the trained one, and the trained one plus the MCSE term (SimCSE on the captions
with the caption-image CLIP loss at weight 0.1). 20 steps of batch 64, seed 0, one thread; the
zero-shot task on the first 2,000 official test images, validation/test retrieval on 500 rows.

    PYTHONPATH=src python benchmarks/clip_text_tower_short.py frozen trained mcse

Prints one JSON line per run and writes benchmarks/results/clip_text_tower_short.json.
"""

import json
import sys
import time
import traceback

import torch

from contrastkit.recipes import train
from contrastkit.recipes.catalogue import recipe_text
from contrastkit.train.config import parse_toml, validate_config

OUTPUT = "benchmarks/results/clip_text_tower_short.json"


def config(kind: str):
    d = parse_toml(recipe_text("clip-fashion-mnist"))
    d["run"]["output_dir"] = "runs/bench-clip-text-tower"
    d["train"].update(batch_size=64, max_steps=20, eval_every=10, report=False)
    d["eval"]["max_samples"] = 500
    d["eval"]["tasks"] = [{"name": "zero_shot", "max_samples": 2000}]
    if kind != "frozen":
        d["towers"]["text"]["frozen"] = False
    if kind == "mcse":
        del d["loss"]
        d["views"] = {"name": "identity", "num_views": 2, "fields": ["text"]}
        d["objectives"] = [
            {"name": "InfoNCE", "temperature": 0.05, "inputs": {"query": "text:0", "key": "text:1"}},
            {"name": "CLIPLoss", "weight": 0.1, "temperature": 0.07,
             "inputs": {"a": "image", "b": "text:0", "ids": "group"}}]
    return validate_config(d)


def main(kinds: list[str]) -> None:
    torch.set_num_threads(1)
    out = {}
    for kind in kinds:
        start = time.perf_counter()
        try:
            r = train(config(kind), f"bench-{kind}", quiet=True)
            kept = {k: round(v, 4) for k, v in r.final.items() if k.startswith(("zero_shot/", "retrieval/"))}
            out[kind] = {"seconds": round(time.perf_counter() - start, 1), "steps": r.steps,
                         "selection": r.selection, "final": kept}
        except Exception as error:  # one failing configuration does not lose the others
            out[kind] = {"error": "".join(traceback.format_exception_only(error)).strip()}
        print(json.dumps({kind: out[kind]}), flush=True)
    with open(OUTPUT, "w") as handle:
        json.dump({"machine": "2 CPU cores shared by 8 engineers; wall seconds include evaluation",
                   "runs": out}, handle, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:] or ["frozen", "trained", "mcse"])
