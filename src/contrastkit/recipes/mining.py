"""``contrastkit mine``: add a ``negatives`` column of mined hard negatives to a pairs file.

The corpus is every distinct positive text of the file. For each row, the positive itself and the positives
of rows in the same group are never negatives; :func:`~contrastkit.evaluate.mining.mine_hard_negatives`
applies the margin / threshold filters and ranks the rest. The output keeps every input column, in the
input's format (jsonl, csv with the list as JSON text, parquet), and is written atomically after all
checks, so bad input writes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .._atomic import atomic_write
from ..data.tables import read_table
from ..data.text_pairs import load_text_pairs
from ..evaluate.mining import check_filter, mine_hard_negatives

SUFFIXES = (".jsonl", ".csv", ".parquet")


def load_text_model(model: str | Path, device: torch.device):
    """A :class:`~contrastkit.encoders.TextEncoder` from a run directory (its ``model``) or a model folder."""
    from ..encoders.text import TextEncoder
    from .inference import load_run_encoder

    path = Path(model)
    if (path / "config.toml").is_file():
        encoder, spec = load_run_encoder(path, device)
        if spec.get("kind") != "text":
            raise ValueError(f"model: the run {path} does not hold a text encoder")
        return encoder
    return TextEncoder.load(path).to(device).eval()


def mine_file(model, pairs_path, output=None, *, k: int = 5, margin: float | None = 0.0,
              threshold: float | None = None, backend: str = "exact", anchor: str = "anchor",
              positive: str = "positive", group: str | None = None, column: str = "negatives",
              device: torch.device | None = None, quiet: bool = False, batch_size: int = 64) -> dict:
    """Mine ``k`` negatives per row of ``pairs_path`` with ``model`` and write ``output`` (default: the
    input file, replaced atomically). Returns counts: rows, corpus size, negatives written, rows short."""
    pairs_path = Path(pairs_path)
    output = Path(output) if output is not None else pairs_path
    if output.suffix.lower() not in SUFFIXES:
        raise ValueError(f"output: expected a {'/'.join(SUFFIXES)} file, got {output.name}")
    check_filter("margin", margin)
    check_filter("threshold", threshold)
    pairs = load_text_pairs(pairs_path, anchor, positive, group=group)
    table = read_table(pairs_path)
    device = device or torch.device("cpu")
    encoder = load_text_model(model, device)
    corpus = list(dict.fromkeys(pairs.positive))
    index = {text: j for j, text in enumerate(corpus)}
    by_group: dict[int, set[int]] = {}
    for g, text in zip(pairs.group, pairs.positive):
        by_group.setdefault(g, set()).add(index[text])
    exclude = [sorted(by_group[g] | {index[p]}) for g, p in zip(pairs.group, pairs.positive)]

    def embed(texts):
        return encoder.encode(texts, batch_size, normalize=True, show_progress=not quiet).cpu()

    corpus_embeddings = embed(corpus)  # every positive is in the corpus: embedded once
    positives = corpus_embeddings[torch.tensor([index[p] for p in pairs.positive], dtype=torch.long)]
    found = mine_hard_negatives(embed(pairs.anchor), positives, corpus_embeddings, k, exclude=exclude,
                                margin=margin, threshold=threshold, backend=backend)
    table[column] = [[corpus[j] for j in row] for row in found]
    atomic_write(output, lambda tmp: _write_table(table, tmp, output.suffix.lower(), column))
    return {"rows": len(pairs), "corpus": len(corpus), "negatives": sum(map(len, found)),
            "short_rows": sum(len(row) < min(k, len(corpus)) for row in found)}


def _write_table(table: dict[str, list], tmp: Path, suffix: str, column: str) -> None:
    names = list(table)
    rows = [dict(zip(names, values)) for values in zip(*table.values())]
    if suffix == ".jsonl":
        tmp.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    elif suffix == ".csv":
        import csv

        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=names)
            writer.writeheader()
            writer.writerows({**row, column: json.dumps(row[column], ensure_ascii=False)} for row in rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(table), str(tmp))
