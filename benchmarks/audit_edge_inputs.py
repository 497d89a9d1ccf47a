"""The counted audit of issue 14: bad and edge inputs fed to every public loss and evaluation
function, each outcome classified by the rule of ``tests/property_cases.py``.

An outcome is a **clear error** (``ValueError`` whose message starts with an argument's name), an
**accepted-and-finite** result (finite value and finite input gradients; for losses that cannot be
negative, not negative; a collapsed encoder not scored well), or **silent wrong** (anything else: a
non-finite value or gradient, an accepted NaN/inf input, a silent constant for one instance, another
exception type, a ValueError that names nothing, a value outside the metric's range, or reference and
streaming engines that disagree). Cases are drawn from a fixed seed over N in {1, 2, 3, 5, 7, 65},
d in {1, 3, 8}, dtype pairs from fp32/fp64/bf16, scales 1e-30..1e30, random / duplicated /
identical / NaN-or-inf rows and temperatures log-uniform in [1e-8, 1e8]. Not a test (the property
tests are); run from the repository root:

    python benchmarks/audit_edge_inputs.py [--per-loss 20] [--per-evaluation 10] [--seed 14]
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.property_cases import (
    DTYPES,
    EVALUATIONS,
    LOSSES,
    PATTERNS,
    SCALES,
    Case,
    SilentWrong,
    check_engines_agree,
    run_evaluation,
    run_loss,
)


def draw(rng: random.Random, seed: int) -> Case:
    return Case(n=rng.choice([1, 2, 3, 5, 7, 65]), d=rng.choice([1, 3, 8]),
                dtypes=(rng.choice(list(DTYPES)), rng.choice(list(DTYPES))), scale=rng.choice(list(SCALES)),
                pattern=rng.choice(PATTERNS), temperature=10 ** rng.uniform(-8, 8), seed=seed,
                nonfinite=rng.choice([math.nan, math.inf, -math.inf]),
                streaming_tile=rng.choice([1, 2, 3, 64]))


def audit(per_loss: int, per_evaluation: int, seed: int) -> dict:
    rng = random.Random(seed)
    counts = {"losses": collections.Counter(), "evaluation": collections.Counter(),
              "engine agreement": collections.Counter()}
    silent = []
    for group, names, runs, runner in (("losses", sorted(LOSSES), per_loss, run_loss),
                                       ("evaluation", sorted(EVALUATIONS), per_evaluation, run_evaluation)):
        for name in names:
            for i in range(runs):
                case = draw(rng, seed=i)
                try:
                    outcome, _ = runner(name, case)
                    counts[group]["clear error" if outcome == "error" else "accepted-and-finite"] += 1
                except SilentWrong as error:
                    counts[group]["silent wrong"] += 1
                    silent.append(f"{group}/{name}: {error}")
                if group == "losses" and LOSSES[name][4]:
                    try:
                        check_engines_agree(name, case)
                        counts["engine agreement"]["agree"] += 1
                    except SilentWrong as error:
                        counts["engine agreement"]["silent wrong"] += 1
                        silent.append(f"engines/{name}: {error}")
    return {"counts": {k: dict(v) for k, v in counts.items()}, "silent_wrong": silent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-loss", type=int, default=20)
    parser.add_argument("--per-evaluation", type=int, default=10)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = audit(args.per_loss, args.per_evaluation, args.seed)
    print("| group | cases tried | clear errors | accepted-and-finite | silent wrong |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for group in ("losses", "evaluation"):
        c = result["counts"][group]
        tried = sum(c.values())
        print(f"| {group} | {tried} | {c.get('clear error', 0)} | {c.get('accepted-and-finite', 0)} "
              f"| {c.get('silent wrong', 0)} |")
    e = result["counts"]["engine agreement"]
    print(f"\nreference vs streaming: {sum(e.values())} comparisons, {e.get('silent wrong', 0)} disagree")
    for line in result["silent_wrong"][:40]:
        print("silent wrong:", line[:200])
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
