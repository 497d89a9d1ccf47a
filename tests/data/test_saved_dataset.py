"""A Hugging Face ``datasets`` folder written by ``save_to_disk`` is read like a file (issue 9 item 1)."""

import pytest

from contrastkit.data.field_files import read_fields

datasets = pytest.importorskip("datasets")


def test_save_to_disk_folder_reads_like_a_file(tmp_path):
    rows = {"question": ["q0", "q1", "q2"], "answer": ["a0", "a1", "a2"], "hard": [["x"], [], ["y", "z"]]}
    folder = tmp_path / "pairs"
    datasets.Dataset.from_dict(rows).save_to_disk(str(folder))
    data = read_fields(folder, {"anchor": "question", "positive": "answer", "negatives": "hard"})
    assert len(data) == 3
    batch = data.batch([2, 0])
    assert batch["anchor"] == ["q2", "q0"] and batch["positive"] == ["a2", "a0"]
    assert batch["negatives"] == [["y", "z"], ["x"]]


def test_a_missing_column_of_a_saved_dataset_is_named(tmp_path):
    folder = tmp_path / "pairs"
    datasets.Dataset.from_dict({"question": ["q"], "answer": ["a"]}).save_to_disk(str(folder))
    with pytest.raises(ValueError, match="reply"):
        read_fields(folder, {"anchor": "question", "positive": "reply"})


def test_a_dataset_dict_folder_asks_for_one_split(tmp_path):
    folder = tmp_path / "splits"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"q": ["a"]})}).save_to_disk(str(folder))
    with pytest.raises(ValueError, match=r"holds the splits \['train'\]; point at one split"):
        read_fields(folder, {"anchor": "q"})
