"""Zero-shot table and figures of a trained image-text run (recipe ``clip-fashion-mnist``): the run's
image and text towers, restored from its selected checkpoint (``selection.json``; else the newest),
classify the official Fashion-MNIST test images from the class prompts of the run's
``[data.captions]`` table, the held-out classes reported apart (the evaluator of the run's
``[[eval.tasks]] name = "zero_shot"`` entry, :mod:`.zero_shot_task`). Writes ``zero_shot.json``
and, in ``report/``, the confusion matrix and the top text-to-image hits of three prompts."""

from __future__ import annotations

from pathlib import Path

import torch

from ..evaluate import confusion_matrix, zero_shot_predictions
from ..evaluate.zero_shot import class_embeddings
from ..train.embedding import embedding_function
from ..train.rundir import RunDir
from .finish import load_selected_model
from .runner import read_run_config
from .zero_shot_task import ZeroShotTask, caption_spec, configured_task

GRID_PROMPTS = 3


def zero_shot_run(run_dir: str | Path, *, metrics: dict | None = None, figures: bool = True) -> dict:
    """``{"zero_shot/accuracy": ..., "zero_shot/seen_accuracy": ..., ...}`` of ``run_dir`` on the
    official test split (all ten classes); see :class:`~contrastkit.evaluate.ZeroShotEvaluator`.

    ``metrics``: the run's final table when it already holds the zero-shot keys (the test split of
    a run with the task): they are kept, not computed again; only the figures need the embeddings.
    """
    config = read_run_config(run_dir)
    run = RunDir(run_dir)
    spec = caption_spec(config, f"run directory {run_dir}: zero-shot evaluation")
    task = configured_task(config) or ZeroShotTask()
    prefix = f"{task.name}/"
    known = {k: v for k, v in (metrics or {}).items() if k.startswith(prefix)}
    if known and not figures:
        run.write_json(run.path / "zero_shot.json", known)
        return known
    test, evaluator = task.test_evaluator(config, spec)
    model = load_selected_model(config, run, test)
    image_fn, text_fn = embedding_function(model, torch.device("cpu")).for_pair(task.image, task.text)
    with torch.no_grad():
        images, prompts = image_fn(evaluator.inputs[0]), text_fn(evaluator.prompts)
    table = known or evaluator.evaluate_embeddings(images, prompts)
    run.write_json(run.path / "zero_shot.json", table)
    if figures:
        from ..report.two_tower import confusion_matrix_plot, top_hits_grid

        out = run.path / "report"
        out.mkdir(exist_ok=True)
        weights = class_embeddings(prompts, evaluator.prompt_classes, evaluator.num_classes)
        predicted = zero_shot_predictions(images, weights)
        counts = confusion_matrix(evaluator.labels, predicted, evaluator.num_classes)
        confusion_matrix_plot(counts, list(spec.class_names), out / "zero_shot_confusion.png",
                              evaluator.unseen_classes)
        chosen = [spec.zero_shot_templates()[0].replace("{}", names[0]) for names in spec.names()]
        chosen = [chosen[c] for c in ([*evaluator.unseen_classes, 0, 3][:GRID_PROMPTS])]
        top_hits_grid(evaluator.inputs[0], images, text_fn(chosen), chosen, out / "top_text_to_image.png")
        if (out / "report.html").is_file():  # the run's report shows the two figures too
            from ..report import write_report

            write_report(run_dir)
    return table
