r"""Zero-shot classification from class prompts, and prompt/image retrieval with class relevance.

CLIP's recipe (Radford et al., 2021, arXiv:2103.00020, Sec. 3.1.4): every class has several
prompts (templates filled with its name, e.g. "a photo of a {}."); each prompt embedding is
L2-normalised, the prompts of a class are averaged and the mean is normalised again, giving one
class embedding :math:`\hat w_c`. An image is assigned the class of highest cosine similarity,
:math:`\hat y = \arg\max_c \langle \hat x, \hat w_c\rangle`, ties broken by the lower class index.

With held-out ("unseen") classes, accuracy is reported on the images of seen classes, on those of
unseen classes (the prediction still ranges over every class, the generalised zero-shot setting,
plus the classic setting that ranges over the unseen classes only) and on all images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ._checks import as_embeddings, check_ks, check_positive_int, check_same_dim
from ._search import top_k
from .retrieval import retrieval_metrics


def class_embeddings(prompt_embeddings, prompt_classes, num_classes: int) -> torch.Tensor:
    """``(C, d)`` float32: per class, the normalised mean of its normalised prompt embeddings.

    ``prompt_classes[p]`` is the class (``0..num_classes-1``) of prompt ``p``; every class needs a prompt.
    """
    prompts = as_embeddings("prompt_embeddings", prompt_embeddings).to(torch.float32)
    owner = class_codes("prompt_classes", prompt_classes, prompts.shape[0], num_classes)
    missing = sorted(set(range(num_classes)) - set(owner.tolist()))
    if missing:
        raise ValueError(f"prompt_classes: classes {missing} have no prompt")
    index = torch.from_numpy(owner).to(prompts.device)
    sums = torch.zeros(num_classes, prompts.shape[1], device=prompts.device)
    sums.index_add_(0, index, F.normalize(prompts, dim=1, eps=1e-12))
    return F.normalize(sums, dim=1, eps=1e-12)


def zero_shot_predictions(image_embeddings, class_embeddings, classes: Sequence[int] | None = None):
    """``(N,)`` int64 NumPy array: the most similar class of each image (cosine); ``classes``
    restricts the choice to those class indices."""
    images = as_embeddings("image_embeddings", image_embeddings).to(torch.float32)
    weights = as_embeddings("class_embeddings", class_embeddings).to(images)
    check_same_dim("image_embeddings", images, "class_embeddings", weights)
    allowed = np.arange(weights.shape[0]) if classes is None else np.asarray(sorted(classes), dtype=np.int64)
    _, best = top_k(images, weights[torch.from_numpy(allowed).to(weights.device)], 1)
    return allowed[best[:, 0].numpy()]


def confusion_matrix(labels, predictions, num_classes: int) -> np.ndarray:
    """``(C, C)`` int64 counts: row = true class, column = predicted class."""
    truth = class_codes("labels", labels, None, num_classes)
    guess = class_codes("predictions", predictions, truth.size, num_classes)
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (truth, guess), 1)
    return counts


def zero_shot_metrics(image_embeddings, labels, prompt_embeddings, prompt_classes, num_classes: int, *,
                      unseen_classes: Sequence[int] = (), ks: Sequence[int] = (1, 5, 10),
                      ndcg_k: int = 10) -> dict[str, float]:
    r"""Zero-shot accuracy and retrieval between images and class prompts.

    Keys: ``accuracy`` (all images); with ``unseen_classes`` also ``seen_accuracy``,
    ``unseen_accuracy`` (choice over all classes), ``unseen_accuracy_among_unseen`` (choice over
    the unseen classes only) and ``harmonic_mean`` of seen and unseen accuracy. Retrieval, with
    every image of the prompt's class relevant: ``text_to_image_*`` (each prompt queries the
    images) and ``image_to_text_*`` (each image queries the prompts); for each ``k``:
    ``recall@k`` (share of the relevant items in the top k, :func:`retrieval_metrics`; at most
    ``k / |class|`` for text to image), ``hit@k`` (share of queries with a relevant item in the
    top k: "Recall@K" of the CLIP retrieval tables), ``precision@k``; and ``ndcg@{ndcg_k}``.

    Args:
        image_embeddings ``(N, d)``, labels ``(N,)`` ints in ``0..C-1``; prompt_embeddings
        ``(P, d)``, prompt_classes ``(P,)``; unseen_classes: class indices held out of training.
    Raises:
        ValueError: names the argument, for mismatched lengths or sizes, labels out of range, a class
        without a prompt, an unseen class out of range, labels without a seen or an unseen image, a
        cut-off larger than a corpus.
    """
    images = as_embeddings("image_embeddings", image_embeddings)
    truth = class_codes("labels", labels, images.shape[0], num_classes)
    prompts = as_embeddings("prompt_embeddings", prompt_embeddings)
    check_same_dim("image_embeddings", images, "prompt_embeddings", prompts)
    owner = class_codes("prompt_classes", prompt_classes, prompts.shape[0], num_classes)
    weights = class_embeddings(prompts, owner, num_classes)
    unseen = sorted({int(c) for c in unseen_classes})
    if any(not 0 <= c < num_classes for c in unseen) or len(unseen) == num_classes:
        raise ValueError(f"unseen_classes: expected class indices in [0, {num_classes}) leaving a seen "
                         f"class, got {unseen}")
    predicted = zero_shot_predictions(images, weights)
    out = {"accuracy": float((predicted == truth).mean())}
    if unseen:
        is_unseen = np.isin(truth, unseen)
        if is_unseen.all() or not is_unseen.any():
            raise ValueError(f"labels: need images of both seen and unseen classes (unseen_classes={unseen})")
        out["seen_accuracy"] = float((predicted[~is_unseen] == truth[~is_unseen]).mean())
        out["unseen_accuracy"] = float((predicted[is_unseen] == truth[is_unseen]).mean())
        among = zero_shot_predictions(images[torch.from_numpy(is_unseen)], weights, unseen)
        out["unseen_accuracy_among_unseen"] = float((among == truth[is_unseen]).mean())
        s, u = out["seen_accuracy"], out["unseen_accuracy"]
        out["harmonic_mean"] = 0.0 if s + u == 0 else 2 * s * u / (s + u)
    members = [np.flatnonzero(truth == c) for c in range(num_classes)]
    mentions = [np.flatnonzero(owner == c) for c in range(num_classes)]
    for direction, queries, corpus, query_class, corpus_class, groups in (
            ("text_to_image", prompts, images, owner, truth, members),
            ("image_to_text", images, prompts, truth, owner, mentions)):
        keep = np.flatnonzero([groups[c].size > 0 for c in query_class])  # classes with no test image
        cut = check_ks(tuple(ks), corpus.shape[0], f"the {direction} corpus size")
        k_ndcg = check_positive_int("ndcg_k", ndcg_k, corpus.shape[0], f"the {direction} corpus size")
        relevant = [set(groups[query_class[q]].tolist()) for q in keep]
        chosen = queries[torch.from_numpy(keep).to(queries.device)]
        metrics = retrieval_metrics(chosen, corpus, relevant, sorted(set(cut) | {k_ndcg}))
        _, ranked = top_k(chosen, corpus, max(cut))
        hits = corpus_class[ranked.numpy()] == query_class[keep][:, None]  # (Q, max k)
        for k in cut:
            out[f"{direction}_recall@{k}"] = metrics[f"recall@{k}"]
            out[f"{direction}_hit@{k}"] = float(hits[:, :k].any(axis=1).mean())
            out[f"{direction}_precision@{k}"] = float(hits[:, :k].mean())
        out[f"{direction}_ndcg@{k_ndcg}"] = metrics[f"ndcg@{k_ndcg}"]
    return out


def class_codes(name: str, values, n: int | None, num_classes: int) -> np.ndarray:
    """Integer class indices in ``0..num_classes-1`` as an int64 array (of length ``n`` when given)."""
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim != 1 or (n is not None and array.shape[0] != n):
        raise ValueError(f"{name}: expected a 1-D sequence{'' if n is None else f' of length {n}'}, "
                         f"got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name}: expected integer class indices, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(f"{name}: class indices must lie in [0, {num_classes}), got "
                         f"[{array.min()}, {array.max()}]")
    return array.astype(np.int64)
