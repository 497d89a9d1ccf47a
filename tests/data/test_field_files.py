"""Rows with named fields from jsonl / csv / parquet: mapping, lazy parquet, and bad input named."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from contrastkit.data.field_files import read_fields


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ROWS = [{"q": f"question {i}", "a": f"answer {i}", "n": [f"wrong {i}"], "topic": i % 2} for i in range(6)]


def test_jsonl_columns_become_fields(tmp_path):
    data = read_fields(_jsonl(tmp_path / "p.jsonl", ROWS),
                       {"anchor": "q", "positive": "a", "negatives": "n", "label": "topic"})
    assert data.fields == ("anchor", "positive", "negatives", "label") and len(data) == 6
    batch = data.batch(torch.tensor([4, 1]))
    assert batch["anchor"] == ["question 4", "question 1"]
    assert batch["negatives"] == [["wrong 4"], ["wrong 1"]]
    assert batch["label"].tolist() == [0, 1]
    sub = data.subset(torch.tensor([1, 2]))
    assert sub.batch(torch.tensor([1]))["positive"] == ["answer 2"] and sub.labels.tolist() == [1, 0]


def test_csv_negatives_are_json_lists_and_parquet_is_read_by_row(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTRASTKIT_CACHE", str(tmp_path / "cache"))
    csv = tmp_path / "p.csv"
    csv.write_text('q,a,n\nhi,hello,"[""bye""]"\n')
    data = read_fields(csv, {"anchor": "q", "negatives": "n"})
    assert data.batch(torch.tensor([0]))["negatives"] == [["bye"]]
    table = pa.table({"q": [f"q{i}" for i in range(10_000)], "a": [f"a{i}" for i in range(10_000)]})
    pq.write_table(table, tmp_path / "p.parquet", row_group_size=3000)
    data = read_fields(tmp_path / "p.parquet", {"anchor": "q", "positive": "a"})
    assert data.table.starts.tolist() == [0, 4096, 8192, 10_000]  # record batches of 4,096 rows
    assert data.batch(torch.tensor([9999, 3, 6001]))["positive"] == ["a9999", "a3", "a6001"]
    assert list((tmp_path / "cache" / "arrow").glob("*.arrow"))  # converted once, then read by row


@pytest.mark.parametrize(("fields", "rows", "message"), [
    ({"anchor": "question"}, ROWS, r"data\.fields\.anchor = 'question': no such column"),
    ({"anchor": "q", "negatives": "a"}, ROWS, r"data\.fields\.negatives = 'a': row 0 .* not a list"),
    ({"anchor": "q"}, [{"q": ""}], r"data\.fields\.anchor = 'q': row 0 .* not a non-empty string"),
    ({"image": "q"}, ROWS, r"data\.fields\.image = 'q': row 0 .* image file 'question 0' does not exist"),
])
def test_bad_input_names_key_and_row(tmp_path, fields, rows, message):
    with pytest.raises(ValueError, match=message):
        read_fields(_jsonl(tmp_path / "p.jsonl", rows), fields)


def test_image_paths_are_relative_to_the_file(tmp_path):
    from PIL import Image

    (tmp_path / "img").mkdir()
    Image.fromarray(np.full((5, 7, 3), 255, dtype=np.uint8)).save(tmp_path / "img" / "a.png")
    data = read_fields(_jsonl(tmp_path / "p.jsonl", [{"p": "img/a.png", "t": "white"}]),
                       {"image": "p", "text": "t"}, image_size=(4, 4), channels=3)
    images = data.batch(torch.tensor([0]))["image"]
    assert images.shape == (1, 3, 4, 4) and torch.allclose(images, torch.ones_like(images))


def test_rows_are_gathered_across_chunks_and_codes_follow_sorted_values():
    from contrastkit.data.field_files import FieldTable

    parts = [pa.table({"anchor": [f"a{i}" for i in range(s, s + 5)], "label": [str(i % 3 + 9) for i in
                                                                                range(s, s + 5)]})
             for s in (0, 5, 10)]
    data = FieldTable(pa.concat_tables(parts))
    assert data.table.column("anchor").num_chunks == 3
    index = torch.tensor([14, 0, 7, 5, 3])
    batch = data.batch(index)
    assert batch["anchor"] == ["a14", "a0", "a7", "a5", "a3"]
    # labels "10" < "11" < "9" in text order
    assert batch["label"].tolist() == [{"9": 2, "10": 0, "11": 1}[str(i % 3 + 9)] for i in index.tolist()]
