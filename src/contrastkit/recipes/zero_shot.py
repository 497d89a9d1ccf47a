"""Zero-shot table of a trained image-text run (recipe ``clip-fashion-mnist``): the run's image and
text towers, restored from its selected checkpoint (``selection.json``; else the newest), classify
the official Fashion-MNIST test images
from the class prompts of the run's ``[data.captions]`` table; the held-out classes are reported
apart. Writes ``zero_shot.json`` and, in ``report/``, the confusion matrix and the top text-to-image
hits of three prompts."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data import CaptionSpec, fashion_mnist_captions
from ..evaluate import ZeroShotEvaluator, confusion_matrix, zero_shot_predictions
from ..evaluate.zero_shot import class_embeddings
from ..report.table import SELECTION
from ..train.checkpoint import load_checkpoint, model_state
from ..train.config import ConfigError
from ..train.embedding import embedding_function
from ..train.rundir import RunDir
from .build import build_model
from .runner import read_run_config

GRID_PROMPTS = 3


def zero_shot_run(run_dir: str | Path, *, max_samples: int | None = None, figures: bool = True) -> dict:
    """``{"zero_shot/accuracy": ..., "zero_shot/seen_accuracy": ..., ...}`` of ``run_dir`` on the
    official test split (all ten classes); see :class:`~contrastkit.evaluate.ZeroShotEvaluator`."""
    config = read_run_config(run_dir)
    run = RunDir(run_dir)
    options = config.data.options
    if config.data.name != "fashion_mnist_captions" or "captions" not in options:
        raise ConfigError(f"run directory {run_dir}: zero-shot evaluation needs data.name = "
                          f"'fashion_mnist_captions' with a [data.captions] table (got {config.data.name!r})")
    spec = CaptionSpec.from_mapping(options["captions"])
    test = fashion_mnist_captions(spec, "test", hold_out=False, root=options.get("root"),
                                  max_samples=max_samples)
    model = build_model(config, test)
    record = run.read_json(run.path / SELECTION) or {}  # the selected checkpoint (else the newest)
    tensors, _ = load_checkpoint(run.checkpoints, record.get("selected_step"))
    state = model_state(tensors)
    model.load_state_dict({k[len("model."):]: v for k, v in state.items() if k.startswith("model.")})
    image_fn, text_fn = embedding_function(model, torch.device("cpu")).for_pair("image", "text")
    evaluator = ZeroShotEvaluator(test.images, test.labels, spec.names(), spec.zero_shot_templates(),
                                  unseen_classes=spec.held_out_indices())
    images, prompts = image_fn(test.images), text_fn(evaluator.prompts)
    metrics = evaluator.evaluate_embeddings(images, prompts)
    run.write_json(run.path / "zero_shot.json", metrics)
    if figures:
        from ..report.two_tower import confusion_matrix_plot, top_hits_grid

        out = run.path / "report"
        out.mkdir(exist_ok=True)
        weights = class_embeddings(prompts, evaluator.prompt_classes, evaluator.num_classes)
        counts = confusion_matrix(test.labels, zero_shot_predictions(images, weights), evaluator.num_classes)
        confusion_matrix_plot(counts, list(spec.class_names), out / "zero_shot_confusion.png",
                              evaluator.unseen_classes)
        chosen = [spec.zero_shot_templates()[0].replace("{}", names[0]) for names in spec.names()]
        chosen = [chosen[c] for c in ([*evaluator.unseen_classes, 0, 3][:GRID_PROMPTS])]
        top_hits_grid(test.images, images, text_fn(chosen), chosen, out / "top_text_to_image.png")
        if (out / "report.html").is_file():  # the run's report shows the two figures too
            from ..report import write_report

            write_report(run_dir)
    return metrics
