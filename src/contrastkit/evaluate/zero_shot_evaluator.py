"""The zero-shot evaluator: images through the image tower, class prompts through the text tower."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ._checks import check_ks, check_positive_int
from ._evaluator import Evaluator, as_array, check_choice, check_inputs
from .zero_shot import class_codes, zero_shot_metrics

EmbedFns = Callable[[object], Tensor] | Mapping[str, Callable[[object], Tensor]]


def class_prompts(class_names: Sequence[str | Sequence[str]], templates: Sequence[str]
                  ) -> tuple[list[str], np.ndarray]:
    """Every template filled with every name of every class: ``(prompts, prompt_classes)``.

    ``class_names[c]`` is one name or a list of names (synonyms) of class ``c``; each template holds
    ``{}`` where the name goes (``"a photo of a {}."``). Prompts are class-major.
    """
    if isinstance(templates, str) or not templates:
        raise ValueError("templates: expected a non-empty list of strings with a '{}' placeholder")
    for i, template in enumerate(templates):
        if not isinstance(template, str) or template.count("{}") != 1:
            raise ValueError(f"templates[{i}]: expected a string with one '{{}}' placeholder, "
                             f"got {template!r}")
    if isinstance(class_names, str) or len(class_names) < 2:
        raise ValueError("class_names: expected a list of at least 2 class names")
    prompts, owner = [], []
    for c, names in enumerate(class_names):
        names = [names] if isinstance(names, str) else list(names)
        if not names or not all(isinstance(n, str) and n.strip() for n in names):
            raise ValueError(f"class_names[{c}]: expected a non-empty name or list of names, got {names!r}")
        for name in names:
            for template in templates:
                prompts.append(template.replace("{}", name.strip()))
                owner.append(c)
    return prompts, np.asarray(owner, dtype=np.int64)


class ZeroShotEvaluator(Evaluator):
    """Zero-shot classification and prompt/image retrieval (:func:`zero_shot_metrics`).

    Built with the evaluation images, their integer labels, the class names (a name or a list of
    synonyms per class) and the prompt templates. Called with one embedding function shared by
    both inputs, or with a mapping ``{image_field: fn, text_field: fn}`` (two towers). Keys:
    ``<name>/accuracy``, ``<name>/seen_accuracy``, ... as in :func:`zero_shot_metrics`; primary
    metric ``accuracy`` unless given.
    """

    def __init__(self, images, labels, class_names: Sequence[str | Sequence[str]], templates: Sequence[str],
                 *, unseen_classes: Sequence[int | str] = (), ks: Sequence[int] = (1, 5, 10),
                 ndcg_k: int = 10, primary: str = "accuracy", image_field: str = "image",
                 text_field: str = "text", name: str = "zero_shot", batch_size: int = 256):
        check_inputs("images", images)
        self.prompts, self.prompt_classes = class_prompts(class_names, templates)
        self.num_classes = len(class_names)
        self.labels = class_codes("labels", as_array(labels), len(images), self.num_classes)
        self.unseen_classes = self._class_indices(unseen_classes, class_names)
        present = set(self.labels.tolist())
        if self.unseen_classes and (present <= set(self.unseen_classes) or
                                    not present & set(self.unseen_classes)):
            raise ValueError(f"labels: need images of both seen and unseen classes "
                             f"(unseen_classes={self.unseen_classes})")
        self.ks = check_ks(ks, min(len(images), len(self.prompts)), "the smaller corpus (images, prompts)")
        self.ndcg_k = check_positive_int("ndcg_k", ndcg_k, min(len(images), len(self.prompts)),
                                         "the smaller corpus (images, prompts)")
        keys = ["accuracy"] + (["seen_accuracy", "unseen_accuracy", "unseen_accuracy_among_unseen",
                                "harmonic_mean"] if self.unseen_classes else [])
        super().__init__(name, check_choice("primary", primary, keys), batch_size)
        if image_field == text_field:
            raise ValueError(f"text_field: must differ from image_field ({image_field!r})")
        self.fields = (image_field, text_field)
        self.inputs = (images, self.prompts)

    @staticmethod
    def _class_indices(classes, class_names) -> list[int]:
        first = [n if isinstance(n, str) else n[0] for n in class_names]
        out = []
        for c in classes:
            if isinstance(c, str) and c in first:
                out.append(first.index(c))
            elif isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= c < len(first):
                out.append(int(c))
            else:
                raise ValueError(f"unseen_classes: {c!r} is neither a class index in [0, {len(first)}) "
                                 f"nor a class name {first}")
        if len(set(out)) == len(first):
            raise ValueError("unseen_classes: every class is unseen; leave at least one seen class")
        return sorted(set(out))

    def metrics(self, image_embeddings, prompt_embeddings):
        return zero_shot_metrics(image_embeddings, self.labels, prompt_embeddings, self.prompt_classes,
                                 self.num_classes, unseen_classes=self.unseen_classes, ks=self.ks,
                                 ndcg_k=self.ndcg_k)

    def __call__(self, embed_fn: EmbedFns) -> dict[str, float]:
        if not isinstance(embed_fn, Mapping):
            return super().__call__(embed_fn)
        missing = [f for f in self.fields if f not in embed_fn]
        if missing:
            raise ValueError(f"embed_fn: no embedding function for fields {missing} (got {list(embed_fn)})")
        embeddings = []
        for field, inputs in zip(self.fields, self.inputs):
            fn = embed_fn[field]
            module = fn if isinstance(fn, nn.Module) else None
            was_training = module.training if module is not None else False
            if module is not None:
                module.eval()
            try:
                with torch.no_grad():
                    embeddings.append(self.embed(fn, inputs))
            finally:
                if module is not None:
                    module.train(was_training)
        return self.evaluate_embeddings(*embeddings)
