"""Where a SimCLR image step's time goes: views vs model forward + backward, contiguous vs channels_last.

Builds SmallCNN + projection head + NT-Xent as the `simclr-fashion-mnist` recipe does, on random
28x28 images (the cost does not depend on pixel values), and times side by side in one process:
  * the two augmented views of a batch (``ImageViews``),
  * forward + backward + AdamW step with the model and input in the default (NCHW contiguous) layout,
  * the same with ``torch.channels_last`` weights and input,
  * the same through SmallCNN as built (its own layout choice).
Prints seconds per step (median of ``--steps`` after ``--warmup``) and the ratios. Not a test:
on a shared machine read the ratios, measured side by side.

With ``--compare`` it instead times whole steps (views + model as built) of several SmallCNN
shapes in one process, interleaved round by round, each as ``WIDTH:DEPTH[:EXTRA[:KIND]]``; the
ratios are to the first one (e.g. the current recipe's, whose alone wall time is known).

    python benchmarks/image_step_speed.py [--threads 2] [--batch 256] [--width 32] [--depth 3]
        [--size 28] [--steps 10] [--warmup 3] [--compare 16:4,16:4:1:conv,24:4:1:residual]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def median_time(fn, steps: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--compare", default=None, help="comma-separated WIDTH:DEPTH[:EXTRA[:KIND]]")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.compare:
        return compare(args)

    from contrastkit.encoders import ProjectionHead, SmallCNN
    from contrastkit.losses import NTXent
    from contrastkit.views import ImageViews

    torch.manual_seed(0)
    images = torch.rand(args.batch, 1, args.size, args.size)
    views = ImageViews(crop_scale=(0.3, 1.0), flip_prob=0.5, max_rotation=0.0, erase_prob=0.5)
    generator = torch.Generator().manual_seed(0)
    loss_fn = NTXent(temperature=0.2)

    def make(layout):
        torch.manual_seed(0)
        encoder = SmallCNN(1, args.width, args.depth, 128, (args.size, args.size))
        model = torch.nn.Sequential(encoder, ProjectionHead(128))
        if layout is not None:
            model = model.to(memory_format=layout)
        return model, torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step_fn(layout):
        model, optimizer = make(layout)
        pair = views(images, generator)

        def step():
            batch = torch.cat(pair)
            if layout is not None:
                batch = batch.contiguous(memory_format=layout)
            a, b = model(batch).chunk(2)
            loss = loss_fn(a, b)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return step

    rows = {
        "views (2 x batch)": median_time(lambda: views(images, generator), args.steps, args.warmup),
        "model, contiguous": median_time(step_fn(torch.contiguous_format), args.steps, args.warmup),
        "model, channels_last": median_time(step_fn(torch.channels_last), args.steps, args.warmup),
        "model, as built": median_time(step_fn(None), args.steps, args.warmup),
    }
    base = rows["model, contiguous"]
    print(f"threads {args.threads}, batch {args.batch} (x2 views), width {args.width}, depth {args.depth}, "
          f"{args.size}x{args.size}")
    print("| part | s / step | vs contiguous model |\n| --- | ---: | ---: |")
    for name, seconds in rows.items():
        print(f"| {name} | {seconds:.4f} | {seconds / base:.2f}x |")
    return 0


def compare(args) -> int:
    from contrastkit.encoders import ProjectionHead, SmallCNN
    from contrastkit.losses import NTXent
    from contrastkit.views import ImageViews

    torch.manual_seed(0)
    images = torch.rand(args.batch, 1, args.size, args.size)
    views = ImageViews(crop_scale=(0.3, 1.0), flip_prob=0.5, max_rotation=0.0, erase_prob=0.5)
    generator = torch.Generator().manual_seed(0)
    loss_fn = NTXent(temperature=0.2)
    steps = {}
    for spec in args.compare.split(","):
        parts = spec.split(":")
        width, depth = int(parts[0]), int(parts[1])
        extra = int(parts[2]) if len(parts) > 2 else 0
        kind = parts[3] if len(parts) > 3 else "conv"
        encoder = SmallCNN(1, width, depth, 128, (args.size, args.size), extra=extra, extra_kind=kind)
        model = torch.nn.Sequential(encoder, ProjectionHead(128))
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

        def step(model=model, optimizer=optimizer):
            a, b = model(torch.cat(views(images, generator))).chunk(2)
            loss = loss_fn(a, b)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        steps[spec] = step
    for _ in range(args.warmup):
        for step in steps.values():
            step()
    times = {spec: [] for spec in steps}
    for _ in range(args.steps):  # round by round, so that load changes hit every shape alike
        for spec, step in steps.items():
            start = time.perf_counter()
            step()
            times[spec].append(time.perf_counter() - start)
    medians = {spec: statistics.median(t) for spec, t in times.items()}
    base = next(iter(medians.values()))
    print(f"threads {args.threads}, batch {args.batch} (x2 views), {args.size}x{args.size}, whole steps")
    print("| width:depth:extra:kind | s / step | vs first |\n| --- | ---: | ---: |")
    for spec, seconds in medians.items():
        print(f"| {spec} | {seconds:.4f} | {seconds / base:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
