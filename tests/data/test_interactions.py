"""Interaction readers (csv/tsv/parquet/RecBole .inter), per-user splits and the BPR sampler."""

import math

import pytest
import torch

from contrastkit.data import BPRSampler, interactions_from_ids, leave_out_split, read_interactions

ROWS = [("u2", "i9", 5.0, 30), ("u1", "i3", 4.0, 10), ("u2", "i3", 2.0, 20), ("u1", "i7", 3.0, 40),
        ("u2", "i9", 1.0, 50), ("u3", "i7", 4.0, 60)]


def _write(path, header, rows, sep):
    path.write_text(sep.join(header) + "\n" + "".join(sep.join(map(str, r)) + "\n" for r in rows))
    return path


def _check_rows(inter, rows):
    got = [(inter.user_ids[u], inter.item_ids[i]) for u, i in zip(inter.users.tolist(), inter.items.tolist())]
    assert got == [(r[0], r[1]) for r in rows]


def test_csv_maps_sorted_ids_and_drops_duplicates(tmp_path):
    inter = read_interactions(_write(tmp_path / "x.csv", ["user", "item", "rating", "timestamp"], ROWS, ","))
    assert inter.user_ids == ("u1", "u2", "u3") and inter.item_ids == ("i3", "i7", "i9")
    assert (inter.num_users, inter.num_items) == (3, 3)
    kept = [r for k, r in enumerate(ROWS) if k != 4]  # ("u2", "i9") repeated: the first row stays
    _check_rows(inter, kept)
    assert inter.ratings.tolist() == [r[2] for r in kept]
    assert inter.timestamps.tolist() == [r[3] for r in kept]


def test_recbole_inter_with_type_suffixes_and_min_rating(tmp_path):
    header = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]
    path = _write(tmp_path / "ml.inter", header, ROWS, "\t")
    inter = read_interactions(path, min_rating=4)
    _check_rows(inter, [r for r in ROWS if r[2] >= 4])
    assert inter.item_ids == ("i3", "i7", "i9")


def test_tsv_and_parquet_with_named_columns(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    tsv = read_interactions(_write(tmp_path / "x.tsv", ["who", "what"], [r[:2] for r in ROWS], "\t"),
                            user_column="who", item_column="what", deduplicate=False)
    _check_rows(tsv, ROWS)
    frame = pd.DataFrame({"userId": [1, 2, 2], "movieId": [10, 10, 30]})
    frame.to_parquet(tmp_path / "x.parquet")
    parquet = read_interactions(tmp_path / "x.parquet")
    assert parquet.user_ids == (1, 2) and parquet.items.tolist() == [0, 0, 1]


def test_bad_files(tmp_path):
    with pytest.raises(ValueError, match="path"):
        read_interactions(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="path"):
        read_interactions(tmp_path / "empty.csv")
    with pytest.raises(ValueError, match="path"):
        read_interactions(_write(tmp_path / "header.csv", ["user", "item"], [], ","))
    with pytest.raises(ValueError, match="item_column"):
        read_interactions(_write(tmp_path / "x.csv", ["user", "thing"], [("a", "b")], ","))
    with pytest.raises(ValueError, match="user_column"):
        read_interactions(_write(tmp_path / "y.csv", ["user", "item"], [("a", "b")], ","), user_column="uid")
    with pytest.raises(ValueError, match="rating_column"):
        read_interactions(_write(tmp_path / "z.csv", ["user", "item"], [("a", "b")], ","), min_rating=3)
    with pytest.raises(ValueError, match="path"):
        read_interactions(_write(tmp_path / "x.dat", ["user", "item"], [("a", "b")], ","))
    with pytest.raises(ValueError, match="min_rating"):
        read_interactions(_write(tmp_path / "w.csv", ["user", "item", "rating"], [("a", "b", 1)], ","),
                          min_rating=3)


def _synthetic(num_users=40, num_items=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    pairs = {(u, int(i)) for u in range(num_users)
             for i in torch.randperm(num_items, generator=g)[: 1 + u % 12]}
    users, items = zip(*sorted(pairs))
    return interactions_from_ids(list(users), list(items), timestamps=torch.randperm(len(users), generator=g))


def test_random_split_per_user_fraction_and_disjointness():
    inter = _synthetic()
    train, test = leave_out_split(inter, test_fraction=0.25, seed=3)
    assert len(train) + len(test) == len(inter)
    all_pairs = set(zip(inter.users.tolist(), inter.items.tolist()))
    train_pairs = set(zip(train.users.tolist(), train.items.tolist()))
    test_pairs = set(zip(test.users.tolist(), test.items.tolist()))
    assert train_pairs | test_pairs == all_pairs and not train_pairs & test_pairs
    for u in range(inter.num_users):
        n = int((inter.users == u).sum())
        assert int((test.users == u).sum()) == min(math.floor(0.25 * n), n - 1)
        assert int((train.users == u).sum()) >= 1
    again = leave_out_split(inter, test_fraction=0.25, seed=3)[1]
    other = leave_out_split(inter, test_fraction=0.25, seed=4)[1]
    assert torch.equal(again.items, test.items) and not torch.equal(other.items, test.items)
    assert train.user_ids == inter.user_ids and test.num_items == inter.num_items


def test_time_split_holds_out_each_users_latest():
    inter = _synthetic()
    _, test = leave_out_split(inter, num_test=2, by="time")
    for u in range(inter.num_users):
        stamps = sorted(inter.timestamps[inter.users == u].tolist())
        held = sorted(test.timestamps[test.users == u].tolist())
        t = min(2, len(stamps) - 1)  # at least one interaction stays in training
        assert held == (stamps[-t:] if t else [])


def test_random_split_is_uniform_over_a_users_items():
    inter = interactions_from_ids([0] * 4, [0, 1, 2, 3])
    counts = torch.zeros(4)
    for seed in range(2000):
        counts += torch.bincount(leave_out_split(inter, num_test=1, seed=seed)[1].items, minlength=4)
    assert float(((counts - 500) ** 2 / 500).sum()) < 16.266  # chi-square, 3 dof, 0.1%


def test_bad_split_arguments():
    inter = _synthetic()
    with pytest.raises(ValueError, match="test_fraction"):
        leave_out_split(inter, test_fraction=1.0)
    with pytest.raises(ValueError, match="num_test"):
        leave_out_split(inter, num_test=0)
    with pytest.raises(ValueError, match="by"):
        leave_out_split(inter, by="popularity")
    with pytest.raises(ValueError, match="by"):
        leave_out_split(interactions_from_ids([0, 1], [1, 0]), by="time")
    with pytest.raises(ValueError, match="min_train"):
        leave_out_split(inter, min_train=0)


def test_bpr_negatives_are_never_interactions_and_uniform():
    inter = interactions_from_ids([0, 0, 0, 1, 1], [0, 1, 2, 3, 4])  # 5 items
    sampler = BPRSampler(inter, seed=0)
    users, pos, neg = sampler.sample(6000)
    positives = set(zip(inter.users.tolist(), inter.items.tolist()))
    assert all((u, p) in positives for u, p in zip(users.tolist(), pos.tolist()))
    assert not any((u, n) in positives for u, n in zip(users.tolist(), neg.tolist()))
    counts = torch.bincount(neg[users == 0], minlength=5)[3:].double()  # user 0: items 3, 4 allowed
    expected = counts.sum() / 2
    assert float(((counts - expected) ** 2 / expected).sum()) < 10.828  # chi-square, 1 dof, 0.1%


def test_bpr_epoch_visits_every_interaction_once_and_is_seeded():
    inter = _synthetic()
    batches = list(BPRSampler(inter, seed=1).epoch(64))
    users = torch.cat([b[0] for b in batches])
    items = torch.cat([b[1] for b in batches])
    expected = sorted(zip(inter.users.tolist(), inter.items.tolist()))
    assert sorted(zip(users.tolist(), items.tolist())) == expected
    assert all(len(b[0]) == 64 for b in batches[:-1])
    again = list(BPRSampler(inter, seed=1).epoch(64))
    assert all(torch.equal(x, y) for a, b in zip(batches, again) for x, y in zip(a, b))
    dropped = list(BPRSampler(inter, seed=1).epoch(64, drop_last=True))
    assert len(dropped) == len(inter) // 64


def test_bpr_bad_inputs():
    with pytest.raises(ValueError, match="train"):
        BPRSampler(interactions_from_ids([0, 0], [0, 1]))  # user 0 has every item
    sampler = BPRSampler(_synthetic())
    with pytest.raises(ValueError, match="batch_size"):
        sampler.sample(0)
    with pytest.raises(ValueError, match="batch_size"):
        next(sampler.epoch(-1))


def test_items_by_user_and_mixed_id_types():
    inter = interactions_from_ids(["b", 3, "b", 3, "a"], [7, 7, 2, 5, 2])
    assert inter.user_ids == ("b", 3, "a")  # ids that do not sort keep their first-appearance order
    assert inter.item_ids == (2, 5, 7)
    assert [t.tolist() for t in inter.items_by_user()] == [[0, 2], [1, 2], [0]]
    with pytest.raises(ValueError, match="items"):
        interactions_from_ids([1, 2], [1])
    with pytest.raises(ValueError, match="users"):
        interactions_from_ids([], [])
