"""Graph recommendation recipes (LightGCL) on the one trainer: data, tower, objectives, evaluator.

* **Data**: the training interactions as :class:`~contrastkit.data.graph_triples.GraphTriples`, one
  field ``graph`` of BPR triples ``(user, item, negative item)``; each user's ``data.test_fraction``
  is held out for the test table, then ``data.validation_fraction`` of each user's remaining
  interactions for selection (best checkpoint, early stop); both per-user and seeded.
* **Tower**: encoder ``graph`` (:class:`~contrastkit.encoders.graph_tower.GraphTower`): one whole-graph
  propagation per step gives the main and the SVD view of every node.
* **Objectives** (Cai et al., 2023, arXiv:2302.08191, official ``main.py``), from
  ``[loss]``: BPR (weight 1) + ``loss.contrastive_weight`` (lambda_1) x LightGCL's contrast +
  ``loss.l2_weight`` (lambda_2) x L2 of the embedding tables (:mod:`contrastkit.losses.graph_terms`);
  the remaining ``[loss]`` keys configure :class:`~contrastkit.losses.LightGCLContrastive`.
* **Evaluator**: Recall@K / NDCG@K of full ranking (:class:`RecommendationEvaluator`); the items a user
  is known to have (training, and for the test table also validation) are excluded from the ranking.
  Baselines: item popularity and the untrained encoder.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..data import leave_out_split
from ..data.graph_triples import GraphTriples
from ..evaluate import recommendation_metrics
from ..losses import LightGCLContrastive
from ..losses.graph_terms import GraphBPR, GraphContrast, GraphL2
from ..train.config import Config, ConfigError
from ..train.objectives import Objective
from .registry import DATA_SOURCES, build_call

GRAPH_LOSS_KEYS = {"contrastive_weight": 0.2, "l2_weight": 1e-7}  # official parser.py lambda_1, lambda_2
KS = (20,)


class GraphViews:
    """LightGCL's two views are made inside the graph tower (propagation and rank-``svd_rank`` SVD
    reconstruction, edge dropout on the propagation); this object carries their settings to the
    tower and passes the training triples through unchanged."""

    def __init__(self, svd_rank: int = 5, edge_dropout: float = 0.0):
        if isinstance(svd_rank, bool) or not isinstance(svd_rank, int) or svd_rank < 1:
            raise ValueError(f"svd_rank: expected a positive int, got {svd_rank!r}")
        if not 0.0 <= edge_dropout < 1.0:
            raise ValueError(f"edge_dropout: expected a probability in [0, 1), got {edge_dropout!r}")
        self.svd_rank, self.edge_dropout = svd_rank, float(edge_dropout)

    def __call__(self, inputs, generator: torch.Generator | None = None) -> list:
        return [inputs]

    def encoder_context(self) -> dict:
        return {"svd_rank": self.svd_rank, "edge_dropout": self.edge_dropout}


def is_graph_config(config: Config) -> bool:
    return config.views.name == "lightgcl_svd"


def check_graph_config(config: Config) -> None:
    """Keys a graph recipe needs (its loss must be LightGCLContrastive, its encoder ``graph``)."""
    if config.loss.name != "LightGCLContrastive" or config.objectives is not None:
        raise ConfigError(f"loss.name = {config.loss.name!r}: views 'lightgcl_svd' train with "
                          "[loss] name = 'LightGCLContrastive' (+ BPR and L2), not [[objectives]]")
    if config.encoder.name != "graph" or config.towers:
        raise ConfigError(f"encoder.name = {config.encoder.name!r}: views 'lightgcl_svd' need "
                          "encoder 'graph' (one tower)")


def graph_objectives(config: Config) -> list[Objective]:
    """BPR + lambda_1 x contrast + lambda_2 x L2, the lambdas from ``[loss]`` (see the module)."""
    options = dict(config.loss.options)
    weights = {key: options.pop(key, default) for key, default in GRAPH_LOSS_KEYS.items()}
    for key, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ConfigError(f"loss.{key} = {value!r}: expected a number >= 0")
    contrast = GraphContrast(build_call(LightGCLContrastive, "loss", options))
    return [Objective(GraphBPR(), name="bpr"),
            Objective(contrast, weight=float(weights["contrastive_weight"]), name="contrastive"),
            Objective(GraphL2(), weight=float(weights["l2_weight"]), name="l2")]


def load_interactions(config: Config):
    """``(train, validation or None, test)`` interactions, held out per user (seeded by ``run.seed``)."""
    options = dict(config.data.options)
    if config.data.path is not None:
        options["path"] = config.data.path
    interactions = DATA_SOURCES.build(config.data.name, options)
    seed = config.run.seed
    train, test = leave_out_split(interactions, test_fraction=config.data.test_fraction, seed=seed)
    validation = None
    if config.data.validation_fraction > 0:
        train, validation = leave_out_split(train, test_fraction=config.data.validation_fraction,
                                            seed=seed + 1)
        if len(validation) == 0:
            raise ConfigError(f"data.validation_fraction = {config.data.validation_fraction}: no user keeps "
                              "a validation interaction (floor(fraction x interactions) is 0); raise it")
    return train, validation, test


def popularity_scores(train) -> tuple[Tensor, Tensor]:
    """Rank every item by its training interaction count, for every user (the baseline)."""
    counts = torch.bincount(train.items, minlength=train.num_items).float()
    return torch.ones(train.num_users, 1), counts[:, None]


class RecommendationEvaluator:
    """``evaluator(embed_fn) -> {"recall@K", "ndcg@K"}``: users ``0..U-1`` and items ``U..U+I-1`` embedded
    by ``embed_fn`` (the tower's main view), items of ``known`` excluded, ``held_out`` the targets."""

    def __init__(self, train, held_out, known: list | None = None, ks=KS):
        self.train, self.ks = train, tuple(ks)
        self.known = known if known is not None else train.items_by_user()
        self.held_out = held_out.items_by_user()

    def __call__(self, embed_fn, keys=None) -> dict[str, float]:
        return self.score(*self.embed(embed_fn))

    def embed(self, embed_fn) -> tuple[Tensor, Tensor]:
        """``(users (U, d), items (I, d))``: every node's main view."""
        nodes = embed_fn(torch.arange(self.train.num_users + self.train.num_items))
        return nodes[: self.train.num_users], nodes[self.train.num_users :]

    def score(self, users: Tensor, items: Tensor) -> dict[str, float]:
        return recommendation_metrics(users.detach(), items.detach(), self.held_out, self.known, self.ks)

    def baselines(self) -> dict[str, dict[str, float]]:
        return {"popularity": self.score(*popularity_scores(self.train))}

    def analysis(self, embed_fn) -> dict:
        """The report's arrays: the items' embeddings (spectrum, embedding map)."""
        return {"embeddings": self.embed(embed_fn)[1].numpy()}


def graph_setup(config: Config, views: GraphViews):
    """``(train data, test evaluator, validation evaluator or None)`` of a graph run."""
    train, validation, test = load_interactions(config)
    data = GraphTriples(train, seed=config.run.seed, encoder_options=views.encoder_context())
    known = train.items_by_user()
    if validation is not None:
        known = [torch.cat([a, b]) for a, b in zip(known, validation.items_by_user())]
    watched = RecommendationEvaluator(train, validation) if validation is not None else None
    return data, RecommendationEvaluator(train, test, known), watched
