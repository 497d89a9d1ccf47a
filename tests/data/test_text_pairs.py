"""Text pairs: named fields, bad rows named, group-wise deterministic splits, the bundled pairs."""

import json

import pytest

from contrastkit.data.text_pairs import TextPairs, load_text_pairs, split_pairs


def _pairs(n=40, group_size=2):
    return TextPairs([f"title {i // group_size}" for i in range(n)], [f"review {i}" for i in range(n)],
                     group=[i // group_size for i in range(n)], label=[str(i % 3) for i in range(n)])


def test_split_is_deterministic_groupwise_and_covers_every_row():
    pairs = _pairs()
    first, again = split_pairs(pairs, 6, 10, seed=1), split_pairs(pairs, 6, 10, seed=1)
    assert first == again
    assert split_pairs(pairs, 6, 10, seed=2)["test"].positive != first["test"].positive
    assert len(first["test"]) >= 10 and len(first["validation"]) >= 6
    assert sorted(t for p in first.values() for t in p.positive) == sorted(pairs.positive)
    groups = [set(first[name].group) for name in ("train", "validation", "test")]
    assert not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not (groups[1] & groups[2])
    with pytest.raises(ValueError, match="leave none"):
        split_pairs(pairs, 20, 20)


def test_relevant_counts_every_positive_of_the_query_group():
    pairs = TextPairs(["a", "a", "b"], ["p0", "p1", "p2"], group=[5, 5, 7])
    assert pairs.relevant() == (["a", "b"], [{0, 1}, {2}])
    assert TextPairs(["a", "b"], ["x", "y"]).group == [0, 1]  # default: every row its own group


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_load_reads_fields_and_names_bad_rows(tmp_path, suffix):
    rows = [{"q": "what", "p": "that", "n": ["other", "more"], "t": "x"},
            {"q": "who", "p": "him", "n": ["her"], "t": "y"}]
    path = tmp_path / f"pairs{suffix}"
    if suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows))
    else:
        import csv

        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["q", "p", "n", "t"])
            writer.writerows([r["q"], r["p"], json.dumps(r["n"]), r["t"]] for r in rows)
    pairs = load_text_pairs(path, "q", "p", negatives="n", group="t")
    assert pairs.negatives == [["other", "more"], ["her"]] and pairs.group == [0, 1]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"q": "a", "p": "b"}) + "\n" + json.dumps({"q": "c", "p": ""}) + "\n")
    with pytest.raises(ValueError, match="positive: row 1 is missing or empty"):
        load_text_pairs(bad, "q", "p")
    bad.write_text(json.dumps({"q": "a", "p": "b", "n": ["x", 3]}) + "\n")
    with pytest.raises(ValueError, match="negatives: row 0 is not a list of non-empty strings"):
        load_text_pairs(bad, "q", "p", negatives="n")
    with pytest.raises(ValueError, match=r"\['missing'\] not in"):
        load_text_pairs(bad, "q", "missing")


def test_clothing_reviews_title_to_review():
    pytest.importorskip("pyarrow")
    from contrastkit.data.text_pair_sources import clothing_review_pairs

    try:
        pairs = clothing_review_pairs()
    except ValueError as err:
        pytest.skip(str(err))
    assert len(pairs) == 19_675 and len(set(pairs.label)) == 21  # 20 classes + "(none)"
    same_title = [i for i, a in enumerate(pairs.anchor) if a.lower() == pairs.anchor[0].lower()]
    assert len({pairs.group[i] for i in same_title}) == 1 and len(set(pairs.group)) < len(pairs)


@pytest.mark.slow
def test_verse_pairs_are_aligned():
    pytest.importorskip("pythonbible")
    from contrastkit.data.text_pair_sources import verse_pairs

    pairs = verse_pairs()
    assert len(pairs) == 31_083 and pairs.anchor[0] == pairs.positive[0]  # Genesis 1:1 reads the same
    assert pairs.label[0] == "genesis" and pairs.label[-1] == "revelation"
