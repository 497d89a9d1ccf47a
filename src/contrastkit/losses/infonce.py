"""InfoNCE with in-batch, shared and per-anchor negatives, label positives and id exclusions."""

from __future__ import annotations

import torch
from torch import Tensor

from ..engine import PairStructure
from ._common import ContrastiveLoss, check_feature_dim, check_index_vector, dense_codes
from ._false_negatives import filtering, statistics
from ._views import check_instances


class InfoNCE(ContrastiveLoss):
    r"""InfoNCE (van den Oord, Li & Vinyals, 2018, "Representation Learning with Contrastive
    Predictive Coding", arXiv:1807.03748, Eq. 4); multi-positive form as SupCon's
    :math:`\mathcal{L}_{out}` (Khosla et al., 2020, arXiv:2004.11362, Eq. 2).

    .. math::
        \ell_i = -\frac{1}{|P(i)|}\sum_{p\in P(i)} s_{ip}
                 + \log\sum_{j\in K(i)} e^{s_{ij}},\qquad
        s_{ij} = \langle \hat q_i, \hat k_j\rangle / \tau

    ``P(i)`` is ``{i}`` plus, with ``labels``, every key of the same label; ``K(i)`` holds every key
    and every extra negative except keys that share the anchor's ``ids`` (other than key ``i``).
    With ``symmetric=True`` the key→query direction (keys as anchors against the queries, no extra
    negatives) is added and the two are averaged, as in CLIP (Radford et al., 2021).

    Args:
        temperature: :math:`\tau > 0` (default 0.07).
        symmetric: add the key→query direction.
        learnable_temperature: make :math:`\tau` a parameter (stored as :math:`\log\tau`).
        normalize: L2-normalise inputs (default ``True``).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (per anchor, ``(N,)``).
        backend, tile_size: engine selection (see :func:`contrastkit.engine.pair_statistics`).
        gather_distributed: score the local queries against the keys (and, with ``labels`` and
            ``ids``, their labels and ids) of every rank, with gradient; with ``symmetric=True`` the
            local keys are scored against every rank's queries. Extra ``negatives`` stay local.
            ``mean`` returns this rank's share of the global mean (see :class:`ContrastiveLoss`).
    Shapes:
        query ``(N, d)``, key ``(N, d)``; ``negatives`` ``(M, d)`` shared or ``(N, K, d)`` per anchor;
        ``labels``, ``ids`` ``(N,)`` integers; ``negative_ids`` ``(M,)`` ids of shared negatives
        (e.g. a queue), excluded where they equal the anchor's id.
    Returns:
        Scalar float32 tensor (float64 for float64 inputs) for ``mean``/``sum``.
    Raises:
        ValueError: names the argument, for a bad shape, non-finite input, ``temperature <= 0``,
        labels/ids of the wrong length, or a single instance (``N = 1`` over every rank) and no
        extra ``negatives``.
    """

    supports_gather_distributed = True
    supports_false_negatives = True

    def __init__(self, temperature: float = 0.07, symmetric: bool = False, **options):
        super().__init__(temperature, **options)
        self.symmetric = bool(symmetric)

    def forward(self, query: Tensor, key: Tensor, *, labels: Tensor | None = None,
                negatives: Tensor | None = None, ids: Tensor | None = None,
                negative_ids: Tensor | None = None) -> Tensor:
        q = self.prepare("query", query)
        k = self.prepare("key", key)
        if k.shape != q.shape:
            raise ValueError(f"key: shape {tuple(k.shape)} does not match query's {tuple(q.shape)}")
        n, d = q.shape
        device = q.device
        shared, per_anchor = None, None
        if negatives is not None:
            if not isinstance(negatives, Tensor) or negatives.dim() not in (2, 3):
                got = tuple(negatives.shape) if isinstance(negatives, Tensor) else type(negatives)
                raise ValueError(f"negatives: expected shape (M, {d}) or ({n}, K, {d}), got {got}")
            if negatives.dim() == 2:
                shared = self.prepare("negatives", negatives, 2)
            else:
                per_anchor = self.prepare("negatives", negatives, 3)
                if per_anchor.shape[0] != n:
                    raise ValueError(
                        f"negatives: per-anchor negatives need {n} rows, got {per_anchor.shape[0]}"
                    )
            check_feature_dim("negatives", negatives, d)
        num_extra = 0 if shared is None else shared.shape[0]
        labels = check_index_vector("labels", labels, n, device)
        ids = check_index_vector("ids", ids, n, device)
        if negative_ids is not None:
            if shared is None:
                raise ValueError("negative_ids: needs shared negatives of shape (M, d)")
            if ids is None:
                raise ValueError("negative_ids: needs ids for the anchors too")
            negative_ids = check_index_vector("negative_ids", negative_ids, num_extra, device)

        # with false-negative filtering (a per-anchor rule) the key->query direction is its own row pass
        gather_queries = self.symmetric and (self.gather_distributed or filtering(self))
        (keys, all_queries, all_labels, all_ids), rows = self.gather(
            k, q if gather_queries else None, labels, ids)
        extra = num_extra + (0 if per_anchor is None else per_anchor.shape[1])
        check_instances("query", rows.total + extra, hint=" and no extra negatives" if not extra else "")
        local = slice(rows.offset, rows.offset + n)
        no_label = torch.full((num_extra,), -1, dtype=torch.long, device=device)
        rules: dict[str, Tensor] = {"pos_index": torch.arange(rows.offset, rows.offset + n, device=device)}
        if labels is not None:
            (codes,) = dense_codes(all_labels)
            rules.update(anchor_labels=codes[local], candidate_labels=torch.cat([codes, no_label]))
        if ids is not None:
            if negative_ids is not None:
                id_codes, negative_codes = dense_codes(all_ids, negative_ids)
            else:
                (id_codes,), negative_codes = dense_codes(all_ids), no_label
            rules.update(anchor_ids=id_codes[local], candidate_ids=torch.cat([id_codes, negative_codes]))
        candidates = keys if shared is None else torch.cat([keys, shared])
        structure = PairStructure(n, rows.total + num_extra, **rules)

        want = {"lse_all", "pos_sum", "pos_count"}
        if self.symmetric and not gather_queries:
            want |= {"col_lse_all", "col_pos_sum", "col_pos_count"}
        stats = statistics(self, q, candidates, structure, want, scale=self.temperature.scale(),
                           row_negatives=per_anchor, **self.engine_options())
        loss = stats.lse_all - stats.pos_sum / stats.pos_count
        if gather_queries:
            # Key->query direction: local keys against the gathered queries, as a second row pass.
            reverse = PairStructure(n, rows.total, **{
                name: value[: rows.total] if name.startswith("candidate") else value
                for name, value in rules.items()})
            back = statistics(self, k, all_queries, reverse, {"lse_all", "pos_sum", "pos_count"},
                              scale=self.temperature.scale(), **self.engine_options())
            loss = 0.5 * (loss + back.lse_all - back.pos_sum / back.pos_count)
        elif self.symmetric:
            backward = stats.col_lse_all[:n] - stats.col_pos_sum[:n] / stats.col_pos_count[:n]
            loss = 0.5 * (loss + backward)
        return self.reduce_rows(loss, rows)
