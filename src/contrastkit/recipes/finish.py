"""The end of a run: test metrics of the selected checkpoint (and of the last step when it differs),
the saved towers, the analysis arrays, and the final table's columns.

Selection looks at validation metrics only (``train.best_metric``); the test split is read here,
once, for the table. Without a best metric the last step is the selected one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from .._atomic import atomic_write
from ..encoders import SAVEABLE
from ..report.table import SELECTION
from .build import input_description
from .inference import save_run_encoder


def finish(trainer, run, evaluator, train_data, name: str) -> tuple[dict, dict]:
    """Evaluate on the test split, load the selected weights, save them; returns
    ``(selected metrics, selection record)``."""
    last_step, best_step = trainer.step, trainer.best.step
    last, arrays = _evaluate(trainer, evaluator)
    record = {"selected_step": last_step, "last_step": last_step, "metric": trainer.best.metric}
    final = last
    if best_step is not None and best_step != last_step:
        trainer.load_model_weights(best_step)
        final, arrays = _evaluate(trainer, evaluator)
        record.update(selected_step=best_step, last=last, validation_value=trainer.best.value)
    elif best_step is not None:
        record["validation_value"] = trainer.best.value
    run.write_json(run.final_metrics, final)
    run.write_json(run.path / SELECTION, record)
    save_towers(trainer.model, run, train_data, trainer.fields, name)
    fit_head = getattr(evaluator, "fit_head", None)  # a few-shot run: its head, for `contrastkit predict`
    if fit_head is not None:
        from .predict import HEAD

        fit_head(trainer.embed_function()).save(run.path / HEAD)
    if arrays is None:
        arrays = evaluator.analysis(trainer.embed_function())
    atomic_write(run.analysis, lambda tmp: np.savez(tmp.open("wb"), **arrays))
    return final, record


def _evaluate(trainer, evaluator) -> tuple[dict, dict | None]:
    """The test metrics of the current weights, and the report's arrays when the evaluator gives both
    from one embedding pass (``evaluate_with_analysis``), else ``None``."""
    both = getattr(evaluator, "evaluate_with_analysis", None)
    if both is None:
        return trainer.evaluate_full(evaluator), None
    return both(trainer.embed_function())


def save_towers(model, run, data, fields, name: str) -> None:
    """The default tower into ``RUN_DIR/model``; with several towers each also into
    ``RUN_DIR/towers/NAME`` (a text tower as a sentence-transformers folder, a head as ``head/``)."""
    for tower_name, tower in model.towers.items():
        used = [f for f in fields if f in model.assign and model.assign[f] == tower_name and f != "negatives"]
        spec = input_description(data, used[0] if used else "anchor")
        folders = [run.model] if tower_name == model.default else []
        if len(model.towers) > 1:
            folders.append(Path(run.path) / "towers" / tower_name)
        for folder in folders:
            save_encoder(Path(folder), tower.encoder, spec, name)
            if len(model.towers) > 1 and not isinstance(tower.head, nn.Identity):
                save_encoder(Path(folder) / "head", tower.head, {"kind": "embedding"}, name)


def save_encoder(folder: Path, module: nn.Module, spec: dict, name: str) -> None:
    """:func:`save_run_encoder`; a user component (named by import path) that has no saving of its
    own gets its weights as ``weights.safetensors`` (reload: build it, ``load_state_dict``)."""
    if type(module).__name__ in SAVEABLE or hasattr(module, "save"):
        save_run_encoder(folder, module, spec, name)
        return
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write(folder / "weights.safetensors", lambda tmp: save_file(state, str(tmp)))


def load_selected_model(config, run, train_data):
    """The run's towers with the weights of its selected checkpoint (``selection.json``)."""
    from ..train.checkpoint import load_checkpoint, model_state
    from .build import build_model

    model = build_model(config, train_data)
    record = run.read_json(run.path / SELECTION) or {}
    tensors, _ = load_checkpoint(run.checkpoints, record.get("selected_step"))
    state = model_state(tensors)
    model.load_state_dict({k[len("model."):]: v for k, v in state.items() if k.startswith("model.")})
    return model.eval()
