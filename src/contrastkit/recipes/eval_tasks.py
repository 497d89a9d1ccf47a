"""``[[eval.tasks]]``: evaluators on the user's own files, by name, in an open registry.

Each entry names a task and its file; the task builds a :mod:`contrastkit.evaluate` evaluator::

    [[eval.tasks]]
    name = "sts"                  # sentence1, sentence2, score columns
    path = "sts-dev.csv"

Metric keys are ``<prefix>/<metric>`` (``prefix`` defaults to the task name). Built in:
``retrieval`` (a pairs file: ``query`` / ``document`` (or ``anchor`` / ``positive``) columns, each
query's own document relevant, the corpus being every distinct document; or ``queries_path`` +
``corpus_path`` +
``relevance_path`` with ``id`` / ``text`` and ``query_id`` / ``corpus_id`` (/ ``score``) columns),
``sts`` (``sentence1``, ``sentence2``, ``score``), ``classification`` (``text`` + ``label``; the file
is split in half, seeded and stratified, and kNN / linear-probe accuracy of the second half is
measured from the first), ``anomaly`` (no file: kNN anomaly AUROC of the labelled split it is bound
to, :class:`AnomalyTask`). Column names are options (``query_column = "question"``). Another
task is one registration: ``EVAL_TASKS.register("zero_shot", "package.module:builder")``.
A file lacking a column its task needs fails before training, naming the task, file and column.
"""

from __future__ import annotations

import torch

from .. import evaluate
from ..data import read_table, train_test_split
from ..data.texts import TextData
from ..train.config import ConfigError
from .registry import Registry

EVAL_TASKS = Registry("eval.tasks")


def _columns(task: str, path: str, columns: list[str]) -> dict:
    try:
        return read_table(path, columns)
    except ValueError as error:
        raise ConfigError(f"eval.tasks ({task}): {error}") from None


def _texts(task: str, path: str, column: str, values: list) -> list[str]:
    for row, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise ConfigError(f"eval.tasks ({task}): row {row} of {path}, column {column!r}: expected a "
                              "non-empty string")
    return values


def retrieval_task(path: str | None = None, query_column: str | None = None,
                   document_column: str | None = None, queries_path: str | None = None,
                   corpus_path: str | None = None, relevance_path: str | None = None,
                   ks: list[int] = (1, 10), prefix: str = "retrieval"):
    """Retrieval from a pairs file, or from queries + corpus + relevance files (see the module)."""
    if path is not None:
        available = list(read_table(path))
        query_column = query_column or ("query" if "query" in available else "anchor")
        document_column = document_column or ("document" if "document" in available else "positive")
        table = _columns("retrieval", path, [query_column, document_column])
        queries = _texts("retrieval", path, query_column, table[query_column])
        documents = _texts("retrieval", path, document_column, table[document_column])
        corpus = list(dict.fromkeys(documents))
        where = {text: i for i, text in enumerate(corpus)}
        relevant: list = [{} for _ in range(len(dict.fromkeys(queries)))]
        query_index = {q: i for i, q in enumerate(dict.fromkeys(queries))}
        for query, document in zip(queries, documents):
            relevant[query_index[query]][where[document]] = 1.0
        queries = list(query_index)
    elif queries_path and corpus_path and relevance_path:
        q = _columns("retrieval", queries_path, ["id", "text"])
        c = _columns("retrieval", corpus_path, ["id", "text"])
        r = read_table(relevance_path)
        missing = [col for col in ("query_id", "corpus_id") if col not in r]
        if missing:
            raise ConfigError(f"eval.tasks (retrieval): {relevance_path} has no column {missing[0]!r}")
        q_index = {str(i): n for n, i in enumerate(q["id"])}
        c_index = {str(i): n for n, i in enumerate(c["id"])}
        relevant = [{} for _ in q_index]
        scores = r.get("score", [1.0] * len(r["query_id"]))
        for row, (qi, ci, s) in enumerate(zip(r["query_id"], r["corpus_id"], scores)):
            if str(qi) not in q_index or str(ci) not in c_index:
                raise ConfigError(f"eval.tasks (retrieval): row {row} of {relevance_path} names an unknown "
                                  f"query or corpus id ({qi!r}, {ci!r})")
            relevant[q_index[str(qi)]][c_index[str(ci)]] = float(s)
        queries = _texts("retrieval", queries_path, "text", q["text"])
        corpus = _texts("retrieval", corpus_path, "text", c["text"])
    else:
        raise ConfigError("eval.tasks (retrieval): give path (a pairs file) or queries_path, corpus_path "
                          "and relevance_path")
    ks = [k for k in ks if k <= len(corpus)]
    return evaluate.RetrievalEvaluator(queries, corpus, relevant, ks=ks, name=prefix)


def sts_task(path: str, sentence1_column: str = "sentence1", sentence2_column: str = "sentence2",
             score_column: str = "score", prefix: str = "sts"):
    table = _columns("sts", path, [sentence1_column, sentence2_column, score_column])
    try:
        gold = [float(v) for v in table[score_column]]
    except (TypeError, ValueError):
        raise ConfigError(f"eval.tasks (sts): column {score_column!r} of {path} holds a non-number") from None
    a = _texts("sts", path, sentence1_column, table[sentence1_column])
    b = _texts("sts", path, sentence2_column, table[sentence2_column])
    return evaluate.STSEvaluator(a, b, gold, name=prefix)


def classification_task(path: str, text_column: str = "text", label_column: str = "label",
                        probes: list[str] = ("knn", "linear"), k: int = 20, seed: int = 0,
                        prefix: str = "classification"):
    table = _columns("classification", path, [text_column, label_column])
    texts = _texts("classification", path, text_column, table[text_column])
    values = [str(v) for v in table[label_column]]
    code = {v: i for i, v in enumerate(sorted(set(values)))}
    data = TextData(texts, torch.tensor([code[v] for v in values]))
    train, test = train_test_split(data, 0.5, seed)
    return evaluate.ProbeEvaluator(train.texts, train.labels, test.texts, test.labels, probes=list(probes),
                                   k=min(k, len(train)), name=prefix)


class AnomalyTask:
    """kNN anomaly AUROC (:class:`~contrastkit.evaluate.AnomalyEvaluator`: mean cosine distance to
    the ``k`` nearest normal training embeddings) of the split it is bound to, every row of it (not
    capped by ``eval.max_samples``: anomalies are rare), against every normal (label 0) training row.
    The validation split must hold both labels (select with ``train.best_metric = "anomaly/auroc"``);
    a test split of normal rows only (a one-class run's own hold-out) gets no anomaly metric."""

    def __init__(self, k: int = 2, prefix: str = "anomaly"):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"eval.tasks (anomaly): k = {k!r}: expected a positive int")
        self.k, self.name = k, prefix

    def bind(self, config, data, role: str, train=None):
        labels = getattr(data, "labels", None)
        if labels is None or set(torch.unique(labels).tolist()) != {0, 1}:
            if role == "validation":
                raise ConfigError("eval.tasks (anomaly): the validation split needs labels 0 (normal) and 1 "
                                  "(anomaly), both present (e.g. bio_train_one_class's data.validation_rows)")
            return None
        normal = train.inputs if train.labels is None else train.inputs[train.labels == 0]
        return evaluate.AnomalyEvaluator(normal, data.inputs, labels, k=min(self.k, len(normal)),
                                         name=self.name, batch_size=1024)


EVAL_TASKS.register("retrieval", retrieval_task, "queries -> documents: Recall@k, MRR@k, NDCG@k")
EVAL_TASKS.register("sts", sts_task, "Spearman / Pearson of cos(sentence1, sentence2) with score")
EVAL_TASKS.register("classification", classification_task, "kNN / linear probe on text + label")
EVAL_TASKS.register("anomaly", AnomalyTask, "kNN anomaly AUROC of labelled rows vs normal training rows")
EVAL_TASKS.register("zero_shot", "contrastkit.recipes.zero_shot_task:ZeroShotTask",
                   "class prompts -> nearest class per image (image-text runs; seen / unseen / all)")


def build_tasks(tasks) -> list:
    """The evaluators of ``[[eval.tasks]]`` entries (config components)."""
    built = []
    for i, task in enumerate(tasks or ()):
        options = task.options
        for key in ("path", "queries_path", "corpus_path", "relevance_path"):
            if key in options:
                from pathlib import Path

                if not Path(str(options[key])).expanduser().is_file():
                    raise ConfigError(f"eval.tasks[{i}].{key} = {options[key]!r}: no such file")
        built.append(EVAL_TASKS.build(task.name, options))
    names = [t.name for t in built]
    if len(set(names)) != len(names):
        raise ConfigError(f"eval.tasks: two tasks share a prefix {names}; give each its own prefix = ...")
    return built
