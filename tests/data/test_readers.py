"""Readers: IDX (plain and .gz), .npz, image folders, jsonl/csv/parquet tables and pair files."""

import gzip
import json
import struct

import numpy as np
import pytest
import torch

from contrastkit.data import (
    load_digits,
    load_idx,
    load_image_folder,
    load_npz,
    read_idx,
    read_pairs,
    read_table,
    train_test_split,
)


def _write_idx(path, array, type_code=0x08, compress=False):
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    (gzip.open if compress else open)(path, "wb").write(payload)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_images_and_labels(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    suffix = ".gz" if compress else ""
    _write_idx(tmp_path / f"images-idx3-ubyte{suffix}", images, compress=compress)
    _write_idx(tmp_path / f"labels-idx1-ubyte{suffix}", labels, compress=compress)
    data = load_idx(tmp_path / f"images-idx3-ubyte{suffix}", tmp_path / f"labels-idx1-ubyte{suffix}")
    assert data.images.shape == (5, 1, 4, 3)
    torch.testing.assert_close(data.images[:, 0], torch.from_numpy(images / 255.0).float())
    assert data.labels.tolist() == [3, 1, 4, 1, 5]


def test_idx_big_endian_floats_and_bad_files(tmp_path):
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    _write_idx(tmp_path / "f.idx", values, type_code=0x0D)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), values)
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x03")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad.idx")
    (tmp_path / "short.idx").write_bytes((tmp_path / "f.idx").read_bytes()[:-4])
    with pytest.raises(ValueError, match="header says"):
        read_idx(tmp_path / "short.idx")


def test_npz_keys_and_channels_last(tmp_path):
    images = np.random.default_rng(0).random((4, 6, 6, 3)).astype(np.float32)
    np.savez(tmp_path / "a.npz", x=images, y=np.array([0, 1, 0, 1]))
    data = load_npz(tmp_path / "a.npz")
    assert data.images.shape == (4, 3, 6, 6) and data.labels.tolist() == [0, 1, 0, 1]
    torch.testing.assert_close(data.images.permute(0, 2, 3, 1), torch.from_numpy(images))
    np.savez(tmp_path / "b.npz", pixels=images * 2)
    with pytest.raises(ValueError, match="images_key"):
        load_npz(tmp_path / "b.npz")
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        load_npz(tmp_path / "b.npz", images_key="pixels")


def test_image_folder_labels_from_subfolders(tmp_path):
    from PIL import Image

    for label, colour in (("cats", 30), ("dogs", 220)):
        (tmp_path / label).mkdir()
        for i in range(2):
            Image.fromarray(np.full((10, 12), colour, dtype=np.uint8)).save(tmp_path / label / f"{i}.png")
    data = load_image_folder(tmp_path, (8, 8), channels=1)
    assert data.images.shape == (4, 1, 8, 8) and data.labels.tolist() == [0, 0, 1, 1]
    assert data.names[0] == "cats/0.png"
    torch.testing.assert_close(data.images[0].mean(), torch.tensor(30 / 255))
    rgb = load_image_folder(tmp_path / "dogs", (4, 4), channels=3)
    assert rgb.images.shape == (2, 3, 4, 4) and rgb.labels is None
    with pytest.raises(ValueError, match="no images"):
        load_image_folder(_empty(tmp_path), (4, 4))


def _empty(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_tables_jsonl_csv_parquet_and_pairs(tmp_path):
    rows = [
        {"anchor": "a cat", "positive": "a kitten", "score": 1},
        {"anchor": "a car", "positive": "an auto"},
    ]
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "p.csv").write_text("anchor,positive\na cat,a kitten\na car,an auto\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"anchor": ["a cat", "a car"], "positive": ["a kitten", "an auto"]}), tmp_path / "p.parquet"
    )
    for name in ("p.jsonl", "p.csv", "p.parquet"):
        assert read_pairs(tmp_path / name) == (["a cat", "a car"], ["a kitten", "an auto"])
    assert read_table(tmp_path / "p.jsonl")["score"] == [1, None]
    with pytest.raises(ValueError, match=r"columns: \['query'\] not in"):
        read_table(tmp_path / "p.csv", ["query"])
    (tmp_path / "bad.jsonl").write_text('{"anchor": "x"}\nnot json\n')
    with pytest.raises(ValueError, match="line 2 is not valid JSON"):
        read_table(tmp_path / "bad.jsonl")
    (tmp_path / "gap.csv").write_text("anchor,positive\na,\n")
    with pytest.raises(ValueError, match="positive: row 0"):
        read_pairs(tmp_path / "gap.csv")


def test_digits_and_stratified_split():
    data = load_digits()
    assert data.images.shape == (1797, 1, 8, 8) and float(data.images.max()) == 1.0
    train, test = train_test_split(data, 0.25, seed=0)
    assert len(train) + len(test) == 1797
    assert set(train.names).isdisjoint(test.names)
    share = torch.bincount(test.labels, minlength=10) / torch.bincount(data.labels, minlength=10)
    assert torch.all((share - 0.25).abs() < 0.02)
    again, _ = train_test_split(data, 0.25, seed=0)
    assert again.names == train.names
