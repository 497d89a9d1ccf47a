"""``[[eval.tasks]] name = "zero_shot"``: zero-shot classification from class prompts inside training.

The task is bound to the split it evaluates (:func:`bind_tasks`). On the validation split of a
``fashion_mnist_captions`` run (the training images minus the held-out classes) it measures
``zero_shot/seen_accuracy``: the prompts of all ten classes compete, the images are of seen classes
only, so a run can select its checkpoint on it (``train.best_metric = "zero_shot/seen_accuracy"``)
without touching the test set. On the test split it reads the official 10,000-image test set with
every class, so the final table holds seen / unseen / all accuracy and prompt-image retrieval
(:class:`~contrastkit.evaluate.ZeroShotEvaluator`), computed once, at the end.
"""

from __future__ import annotations

import torch

from ..data import CaptionSpec, fashion_mnist_captions
from ..evaluate import ZeroShotEvaluator
from ..train.config import ConfigError


class ZeroShotTask:
    """A zero-shot task waiting for its split; ``image`` and ``text`` name the fields whose towers
    embed the images and the prompts; ``max_samples`` caps the official test images."""

    def __init__(self, image: str = "image", text: str = "text", max_samples: int | None = None,
                 prefix: str = "zero_shot"):
        if max_samples is not None and (isinstance(max_samples, bool) or not isinstance(max_samples, int)
                                        or max_samples < 1):
            raise ConfigError(f"eval.tasks (zero_shot): max_samples = {max_samples!r}: expected a "
                              "positive int")
        self.image, self.text, self.max_samples, self.name = image, text, max_samples, prefix

    def bind(self, config, data, role: str, train=None) -> BoundZeroShot:
        """The evaluator on the first ``eval.max_samples`` rows of ``data`` (``role = "validation"``) or
        on the official test set (``"test"``)."""
        spec = caption_spec(config, "eval.tasks (zero_shot)")
        if role == "test":
            data, evaluator = self.test_evaluator(config, spec)
        else:  # the first eval.max_samples rows of the validation split, one image per row
            data = data.subset(torch.arange(min(config.eval.max_samples, len(data))))
            evaluator = self._evaluator(spec, data.images[data.image_index], data.labels)
        seen_only = not set(data.labels.tolist()) & set(spec.held_out_indices())
        return BoundZeroShot(evaluator, seen_only=seen_only)

    def test_evaluator(self, config, spec: CaptionSpec | None = None):
        """``(test data, evaluator)``: the official test set, every class (``max_samples`` capped)."""
        spec = spec or caption_spec(config, "eval.tasks (zero_shot)")
        test = fashion_mnist_captions(spec, "test", hold_out=False, root=config.data.options.get("root"),
                                      max_samples=self.max_samples)
        return test, self._evaluator(spec, test.images[test.image_index], test.labels)

    def _evaluator(self, spec: CaptionSpec, images, labels) -> ZeroShotEvaluator:
        unseen = set(spec.held_out_indices())
        present = set(labels.tolist())
        size = min(len(labels), len(spec.zero_shot_templates()) * len(spec.class_names))
        return ZeroShotEvaluator(
            images, labels, spec.names(), spec.zero_shot_templates(),
            ks=[k for k in (1, 5, 10) if k <= size] or [1], ndcg_k=min(10, size),
            unseen_classes=sorted(unseen) if present & unseen and present - unseen else (),
            image_field=self.image, text_field=self.text, name=self.name)


def caption_spec(config, where: str) -> CaptionSpec:
    """The ``[data.captions]`` table of a ``fashion_mnist_captions`` run (else a ConfigError)."""
    options = config.data.options
    if config.data.name != "fashion_mnist_captions" or "captions" not in options:
        raise ConfigError(f"{where}: needs data.name = 'fashion_mnist_captions' with a [data.captions] table "
                          f"(got {config.data.name!r})")
    return CaptionSpec.from_mapping(options["captions"])


def configured_task(config) -> ZeroShotTask | None:
    """The run's first ``[[eval.tasks]] name = "zero_shot"`` entry, built; ``None`` without one."""
    for entry in config.eval.tasks or ():
        if entry.name == "zero_shot":
            return ZeroShotTask(**entry.options)
    return None


class BoundZeroShot:
    """Calls the evaluator with the two towers' embedding functions; on seen classes only (the
    validation split), ``accuracy`` is also reported as ``seen_accuracy``."""

    def __init__(self, evaluator: ZeroShotEvaluator, seen_only: bool):
        self.evaluator, self.seen_only, self.name = evaluator, seen_only, evaluator.name

    def __call__(self, embed_fn) -> dict[str, float]:
        pick = getattr(embed_fn, "for_pair", None)
        image, text = self.evaluator.fields
        image_fn, text_fn = pick(image, text) if pick else (embed_fn, embed_fn)
        metrics = self.evaluator({image: image_fn, text: text_fn})
        if self.seen_only:
            metrics[f"{self.name}/seen_accuracy"] = metrics[f"{self.name}/accuracy"]
        return metrics


def bind_tasks(tasks, config, data, role: str, train=None) -> list:
    """``[[eval.tasks]]`` evaluators for one split: split-bound tasks (``bind``) get ``data`` and the
    ``train`` split, and may give ``None`` (no metric on this split)."""
    bound = [task.bind(config, data, role, train) if hasattr(task, "bind") else task for task in tasks]
    return [task for task in bound if task is not None]
