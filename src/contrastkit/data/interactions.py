"""User-item interaction lists: reading, index mapping and the per-user train/test split.

:func:`read_interactions` reads csv, tsv, parquet and RecBole ``.inter`` files (whose header names carry
a ``:type`` suffix, e.g. ``user_id:token``) into :class:`Interactions`: index tensors over dense ids
``0..num_users-1`` / ``0..num_items-1`` (original ids sorted), with the original ids kept for output.
:func:`leave_out_split` holds out interactions per user for Recall@K / NDCG@K evaluation. The BPR
sampler lives in :mod:`contrastkit.data.bpr`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

USER_COLUMNS = ("user_id", "user", "userid", "uid", "user_idx")
ITEM_COLUMNS = ("item_id", "item", "itemid", "movie_id", "movieid", "iid", "item_idx")
RATING_COLUMNS = ("rating", "ratings", "score")
TIME_COLUMNS = ("timestamp", "time", "ts", "unix_timestamp")


@dataclass(frozen=True)
class Interactions:
    """Interactions as index tensors. ``users``, ``items`` (and ``ratings``, ``timestamps`` if read) are
    ``(E,)`` tensors; ``user_ids[k]`` / ``item_ids[k]`` is the original id of index ``k``."""

    users: Tensor
    items: Tensor
    num_users: int
    num_items: int
    user_ids: tuple
    item_ids: tuple
    ratings: Tensor | None = None
    timestamps: Tensor | None = None

    def __len__(self) -> int:
        return int(self.users.numel())

    def subset(self, keep: Tensor) -> Interactions:
        """The interactions selected by a boolean ``(E,)`` mask or an index tensor (same id maps)."""

        def pick(t: Tensor | None) -> Tensor | None:
            return None if t is None else t[keep]

        return replace(
            self,
            users=self.users[keep],
            items=self.items[keep],
            ratings=pick(self.ratings),
            timestamps=pick(self.timestamps),
        )

    def items_by_user(self) -> list[Tensor]:
        """``result[u]`` = sorted item indices of user ``u`` (empty for users without interactions)."""
        order = torch.argsort(self.users * self.num_items + self.items)
        counts = torch.bincount(self.users, minlength=self.num_users).tolist()
        return list(torch.split(self.items[order], counts))


def _find_column(
    name: str, given: str | None, candidates: tuple[str, ...], columns: list[str], required: bool
) -> str | None:
    if given is not None:
        if given not in columns:
            raise ValueError(f"{name}: column {given!r} not found; the file has {columns}")
        return given
    lower = {c.lower(): c for c in columns}
    found = next((lower[c] for c in candidates if c in lower), None)
    if found is None and required:
        raise ValueError(
            f"{name}: none of the columns {columns} looks like one of {candidates}; pass {name}="
        )
    return found


def _read_table(path: Path, sep: str | None):
    import pandas as pd

    suffixes = [s.lower() for s in path.suffixes]
    if ".parquet" in suffixes:
        table = pd.read_parquet(path)
    else:
        if sep is None:
            sep = {".csv": ",", ".tsv": "\t", ".inter": "\t"}.get(suffixes[-1] if suffixes else "")
        if sep is None:
            raise ValueError(
                f"path: cannot tell the format of {path.name!r}; pass sep= or use "
                ".csv, .tsv, .inter or .parquet"
            )
        try:
            table = pd.read_csv(path, sep=sep)
        except pd.errors.EmptyDataError as err:
            raise ValueError(f"path: {str(path)!r} is empty") from err
    table.columns = [str(c).split(":", 1)[0].strip() for c in table.columns]  # RecBole 'user_id:token'
    return table


def read_interactions(
    path: str | os.PathLike,
    *,
    user_column: str | None = None,
    item_column: str | None = None,
    rating_column: str | None = None,
    timestamp_column: str | None = None,
    min_rating: float | None = None,
    sep: str | None = None,
    deduplicate: bool = True,
) -> Interactions:
    """Read an interaction file into :class:`Interactions`.

    Columns are found by name (case-insensitive: ``user_id``/``user``/``uid``..., ``item_id``/``item``/
    ``movie_id``..., optional ``rating`` and ``timestamp``) unless given. Rows with
    ``rating < min_rating`` are dropped *before* the index mapping (so users or items left without
    interactions get no index). With ``deduplicate``, a repeated ``(user, item)`` pair keeps its first row.

    Raises:
        ValueError: for a missing or empty file, an unknown format, a missing column, or no row left.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"path: file {str(path)!r} does not exist")
    table = _read_table(path, sep)
    columns = list(table.columns)
    user = _find_column("user_column", user_column, USER_COLUMNS, columns, True)
    item = _find_column("item_column", item_column, ITEM_COLUMNS, columns, True)
    rating = _find_column("rating_column", rating_column, RATING_COLUMNS, columns, min_rating is not None)
    stamp = _find_column("timestamp_column", timestamp_column, TIME_COLUMNS, columns, False)
    if len(table) == 0:
        raise ValueError(f"path: {str(path)!r} has no interactions")
    if min_rating is not None:
        table = table[table[rating] >= min_rating]
    if deduplicate:
        table = table.drop_duplicates(subset=[user, item], keep="first")
    if len(table) == 0:
        raise ValueError(f"min_rating: no interaction of {str(path)!r} has rating >= {min_rating}")
    return interactions_from_ids(
        table[user].tolist(),
        table[item].tolist(),
        ratings=None if rating is None else table[rating].to_numpy(dtype="float32"),
        timestamps=None if stamp is None else table[stamp].to_numpy(dtype="float64"),
    )


def _index(ids: list[Any]) -> tuple[Tensor, tuple]:
    try:
        originals = sorted(set(ids))
    except TypeError:  # mixed id types: order of first appearance
        originals = list(dict.fromkeys(ids))
    lookup = {original: k for k, original in enumerate(originals)}
    return torch.tensor([lookup[i] for i in ids], dtype=torch.long), tuple(originals)


def interactions_from_ids(
    users: list[Any], items: list[Any], *, ratings: Any = None, timestamps: Any = None
) -> Interactions:
    """Build :class:`Interactions` from parallel lists of original user and item ids."""
    if len(users) != len(items):
        raise ValueError(f"items: expected {len(users)} ids like users, got {len(items)}")
    if len(users) == 0:
        raise ValueError("users: expected at least one interaction")
    user_index, user_ids = _index(list(users))
    item_index, item_ids = _index(list(items))
    return Interactions(
        user_index,
        item_index,
        len(user_ids),
        len(item_ids),
        user_ids,
        item_ids,
        None if ratings is None else torch.as_tensor(ratings),
        None if timestamps is None else torch.as_tensor(timestamps),
    )


def leave_out_split(
    interactions: Interactions,
    *,
    test_fraction: float | None = 0.2,
    num_test: int | None = None,
    by: str = "random",
    min_train: int = 1,
    seed: int = 0,
) -> tuple[Interactions, Interactions]:
    """Hold out interactions per user: ``(train, test)`` with the same id maps.

    Each user ``u`` with ``n_u`` interactions gives ``t_u = num_test`` (leave-``k``-out) or
    ``floor(test_fraction * n_u)`` interactions to the test set, but never so many that fewer than
    ``min_train`` stay in training (so a user with ``n_u <= min_train`` is training-only). With
    ``by="random"`` the test interactions are a seeded uniform choice; with ``by="time"`` they are the
    user's latest (ties broken by file order).

    Raises:
        ValueError: naming the argument, for ``test_fraction`` outside ``(0, 1)``, ``num_test < 1``,
            ``min_train < 1``, an unknown ``by``, or ``by="time"`` without timestamps.
    """
    if num_test is not None:
        if int(num_test) != num_test or num_test < 1:
            raise ValueError(f"num_test: expected a positive integer, got {num_test!r}")
    elif test_fraction is None or not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a fraction in (0, 1), got {test_fraction!r}")
    if int(min_train) != min_train or min_train < 1:
        raise ValueError(f"min_train: expected a positive integer, got {min_train!r}")
    if by == "time":
        if interactions.timestamps is None:
            raise ValueError("by: 'time' needs timestamps; the interactions have none")
        key = interactions.timestamps.double()
    elif by == "random":
        generator = torch.Generator().manual_seed(seed)
        key = torch.rand(len(interactions), generator=generator, dtype=torch.float64)
    else:
        raise ValueError(f"by: expected 'random' or 'time', got {by!r}")
    users = interactions.users
    order = torch.argsort(key, stable=True)
    order = order[torch.argsort(users[order], stable=True)]  # by user, then by key within the user
    counts = torch.bincount(users, minlength=interactions.num_users)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order)) - starts[users[order]]  # position of each row in its user's order
    n = counts[users]
    wanted = (
        torch.full_like(n, int(num_test))
        if num_test is not None
        else torch.floor(n.double() * test_fraction + 1e-9).long()
    )  # 1e-9: 0.29 * 100 -> 29
    t = torch.minimum(wanted, (n - min_train).clamp(min=0))
    is_test = rank >= n - t
    return interactions.subset(~is_test), interactions.subset(is_test)
