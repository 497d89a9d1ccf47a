"""``contrastkit predict RUN_DIR TEXTS``: labels and class probabilities from a few-shot run.

A few-shot run directory holds the fine-tuned text encoder (``model/``) and its logistic-regression head
(``head.json``, :class:`~contrastkit.evaluate.fewshot.LogisticHead`). Each input text (a ``.txt`` line
or the ``text`` column of a jsonl / csv / parquet file) becomes one JSON line
``{"text", "label", "probabilities": {class: p}}``, written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .._atomic import atomic_write
from ..evaluate.fewshot import LogisticHead
from ..train.embedding import embed_all
from .inference import load_run_encoder, read_text_lines

HEAD = "head.json"


def predict_file(run_dir, input_path, output, device: torch.device, batch_size: int = 64) -> int:
    """Write the predictions of ``input_path`` to ``output`` (``.jsonl``); return the number of rows."""
    from ..data import load_texts

    output = Path(output)
    if output.suffix != ".jsonl":
        raise ValueError(f"output: expected a .jsonl file name, got {output.name}")
    head_path = Path(run_dir) / HEAD
    if not head_path.is_file():
        raise ValueError(f"run_dir: {run_dir} has no classification head ({HEAD}); see text-fewshot")
    if not Path(input_path).is_file():
        raise ValueError(f"input: {input_path} does not exist")
    texts = read_text_lines(input_path) if Path(input_path).suffix.lower() == ".txt" else \
        load_texts(input_path).texts
    head = LogisticHead.load(head_path)
    encoder, spec = load_run_encoder(run_dir, device)
    if spec.get("kind") != "text":
        raise ValueError(f"run_dir: {run_dir} does not hold a text encoder")
    embeddings = embed_all(getattr(encoder, "embed", encoder), texts, device, batch_size)
    probabilities = head.probabilities(embeddings)
    lines = [json.dumps({"text": text, "label": head.classes[int(row.argmax())],
                         "probabilities": dict(zip(head.classes, map(float, row)))}, ensure_ascii=False)
             for text, row in zip(texts, probabilities)]
    atomic_write(output, lambda tmp: tmp.write_text("\n".join(lines) + "\n", encoding="utf-8"))
    return len(lines)
