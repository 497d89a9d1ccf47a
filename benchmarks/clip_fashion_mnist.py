"""Pilot of the clip-fashion-mnist recipe, built from the library's parts with a plain loop (the
recipe itself runs on the trainer of issue 9): small CNN image tower, all-MiniLM-L6-v2 text tower
(frozen: locked-text tuning; or trained with its own learning rate), captions generated from the
labels (the ``[data.captions]`` table of ``src/contrastkit/recipes/clip-fashion-mnist.toml``, two
classes held out of training),
``CLIPLoss`` (learnable temperature) or ``SigLIP``, optionally plus unsupervised SimCSE on the captions
(MCSE). Prints the zero-shot table on the official 10,000-image test set and writes JSON.

    python benchmarks/clip_fashion_mnist.py [--loss clip|siglip] [--text frozen|trained]
        [--mcse 0.0] [--epochs 2] [--train-samples 60000] [--probe] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import tomllib
import torch
from torch import nn

from contrastkit.data import CaptionSpec, fashion_mnist_captions
from contrastkit.encoders import SmallCNN, TextEncoder
from contrastkit.encoders.small_transformer import default_tokenizer_folder
from contrastkit.evaluate import ZeroShotEvaluator, linear_probe
from contrastkit.losses import CLIPLoss, InfoNCE, SigLIP

RECIPE = Path(__file__).parents[1] / "src/contrastkit/recipes/clip-fashion-mnist.toml"


def build(args):
    image_tower = nn.Sequential(SmallCNN(1, width=32, depth=3, embedding_dim=128, image_size=(28, 28)),
                                nn.ReLU(), nn.Linear(128, 384))
    text_tower = TextEncoder(default_tokenizer_folder(), pooling="mean", max_length=32)
    text_tower.requires_grad_(args.text == "trained")
    loss = CLIPLoss(0.07) if args.loss == "clip" else SigLIP(0.1, -10.0)
    groups = [{"params": [*image_tower.parameters(), *loss.parameters()], "lr": args.lr}]
    if args.text == "trained":
        groups.append({"params": list(text_tower.parameters()), "lr": args.text_lr})
    return image_tower, text_tower, loss, torch.optim.AdamW(groups, weight_decay=1e-4)


def text_embedder(text_tower, frozen: bool):
    """Frozen: every distinct caption embedded once and looked up; trained: distinct captions of the
    batch through the tower (with gradient), then indexed back."""
    cache: dict[str, torch.Tensor] = {}

    def embed(texts):
        distinct = list(dict.fromkeys(texts))
        if frozen:
            new = [t for t in distinct if t not in cache]
            if new:
                cache.update(zip(new, text_tower.encode(new, batch_size=256)))
            return torch.stack([cache[t] for t in texts])
        where = {t: i for i, t in enumerate(distinct)}
        return text_tower(distinct)[torch.tensor([where[t] for t in texts])]
    return embed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", choices=("clip", "siglip"), default="clip")
    parser.add_argument("--text", choices=("frozen", "trained"), default="frozen")
    parser.add_argument("--mcse", type=float, default=0.0, help="weight of SimCSE on the captions")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--train-samples", type=int, default=60000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--text-lr", type=float, default=2e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--probe", action="store_true", help="linear probes of raw pixels and image tower")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.mcse > 0 and args.text == "frozen":
        parser.error("--mcse needs --text trained (SimCSE trains the text tower)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    spec = CaptionSpec.from_mapping(tomllib.loads(RECIPE.read_text())["data"]["captions"])
    train = fashion_mnist_captions(spec, "train", seed=args.seed, max_samples=args.train_samples)
    test = fashion_mnist_captions(spec, "test", seed=args.seed)
    image_tower, text_tower, loss, optimizer = build(args)
    embed_text = text_embedder(text_tower, frozen=args.text == "frozen")
    simcse = InfoNCE(0.05)
    steps = int(args.epochs * len(train) // args.batch_size)
    generator = torch.Generator().manual_seed(args.seed)
    order, temperatures = torch.randperm(len(train), generator=generator), []
    image_tower.train()
    text_tower.train(args.text == "trained")
    for step in range(steps):
        at = (step * args.batch_size) % len(train)
        if at + args.batch_size > len(train):
            order, at = torch.randperm(len(train), generator=generator), 0
        batch = train.batch(order[at:at + args.batch_size])
        for group, base in zip(optimizer.param_groups, (args.lr, args.text_lr)):
            group["lr"] = base * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * step / steps)).item())
        text = embed_text(batch["text"])
        value = loss(image_tower(batch["image"]), text)
        if args.mcse > 0:  # unsupervised SimCSE: a second dropout pass of the captions
            value = value + args.mcse * simcse(text, embed_text(batch["text"]))
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        temperatures.append(loss.temperature.value)
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step}/{steps} loss {value.item():.4f} temperature {temperatures[-1]:.4f} "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    train_seconds = time.perf_counter() - start
    image_tower.eval()
    text_tower.eval()
    with torch.no_grad():
        evaluator = ZeroShotEvaluator(test.images, test.labels, spec.names(), spec.zero_shot_templates(),
                                      unseen_classes=spec.held_out_indices())
        result = evaluator({"image": image_tower, "text": lambda texts: text_tower.encode(list(texts))})
        if args.probe:
            probe_train = fashion_mnist_captions(spec, "train", hold_out=False, max_samples=10000)
            cnn = image_tower[0]
            for name, fn in (("raw_pixels", lambda x: x.flatten(1)), ("image_tower", cnn)):
                train_x = torch.cat([fn(probe_train.images[i:i + 1000]) for i in range(0, 10000, 1000)])
                test_x = torch.cat([fn(test.images[i:i + 1000]) for i in range(0, 10000, 1000)])
                result[f"linear_probe/{name}"] = linear_probe(
                    train_x, probe_train.labels, test_x, test.labels, regularization=(0.1, 1.0))
    result.update(steps=steps, train_seconds=train_seconds, total_seconds=time.perf_counter() - start,
                  temperature_start=temperatures[0], temperature_end=temperatures[-1], **vars(args))
    for key in ("accuracy", "seen_accuracy", "unseen_accuracy", "unseen_accuracy_among_unseen",
                "text_to_image_hit@1", "text_to_image_precision@10", "text_to_image_ndcg@10",
                "image_to_text_hit@1", "image_to_text_ndcg@10"):
        print(f"{key:32s} {result['zero_shot/' + key]:.4f}")
    for key in sorted(k for k in result if k.startswith("linear_probe")):
        print(f"{key:32s} {result[key]:.4f}")
    print(f"steps {steps}, train {train_seconds:.0f} s, total {result['total_seconds']:.0f} s, "
          f"temperature {temperatures[0]:.4f} -> {temperatures[-1]:.4f}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
