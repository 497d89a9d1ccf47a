"""A user's image-caption table: csv / jsonl / parquet, groups of captions, resizing, bad rows."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from contrastkit.data import load_resized, read_image_captions


def _png(path, array, mode="L"):
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode).save(path)
    return path


def test_resize_is_cover_then_centre_crop(tmp_path):
    # A 2x4 (H x W) image: columns 0,1,2,3 = 0, 80, 160, 240. Size 2x2 covers it at scale 1,
    # so the transform is a pure centre crop: columns 1 and 2.
    rows = np.tile(np.array([0, 80, 160, 240]), (2, 1))
    got = load_resized(_png(tmp_path / "a.png", rows), 2)
    np.testing.assert_allclose(got, np.array([[[80, 160], [80, 160]]]) / 255.0, atol=1e-6)
    # RGB, shrunk: a 40x20 (H x W) image to 10x10 keeps the whole width and crops the height.
    colour = np.zeros((40, 20, 3))
    colour[:, :, 0] = 255
    file = _png(tmp_path / "b.png", colour, "RGB")
    got = load_resized(file, (10, 10), channels=3)
    assert got.shape == (3, 10, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got[0], 1.0, atol=1e-6)
    np.testing.assert_allclose(got[1:], 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="size"):
        load_resized(file, (0, 3))
    with pytest.raises(ValueError, match="channels"):
        load_resized(file, 4, channels=2)


def _folder(tmp_path):
    (tmp_path / "img").mkdir()
    _png(tmp_path / "img" / "dress.png", np.full((30, 50), 200))
    _png(tmp_path / "img" / "boot.png", np.full((64, 64), 10))
    return [("img/dress.png", "a red dress", "dress"), ("img/boot.png", "a black boot", "shoe"),
            ("img/dress.png", "a summer dress", "dress")]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_reads_every_format_and_groups_captions_of_one_image(tmp_path, suffix):
    rows = _folder(tmp_path)
    table = tmp_path / f"pairs{suffix}"
    if suffix == ".csv":
        table.write_text("image,caption,kind\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    elif suffix == ".jsonl":
        lines = [json.dumps({"image": a, "caption": b, "kind": c}) for a, b, c in rows]
        table.write_text("\n".join(lines) + "\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"image": [r[0] for r in rows], "caption": [r[1] for r in rows],
                                 "kind": [r[2] for r in rows]}), table)
    data = read_image_captions(table, size=16, label_column="kind")
    assert data.num_images == 2 and len(data) == 3
    assert data.names == ["img/dress.png", "img/boot.png"]
    assert data.groups().tolist() == [0, 1, 0]  # the two dress captions are one group
    assert data.captions == ["a red dress", "a black boot", "a summer dress"]
    assert data.labels.tolist() == [0, 1, 0]
    assert data.images.shape == (2, 1, 16, 16)
    torch.testing.assert_close(data.images[0], torch.full((1, 16, 16), 200 / 255))


def test_bad_rows_name_the_row_and_the_file(tmp_path):
    _folder(tmp_path)
    (tmp_path / "img" / "notes.png").write_text("not an image")
    cases = {
        "img/dress.png,\n": r"caption: row 1 of t.csv has an empty caption \(image 'img/dress.png'\)",
        "img/missing.png,a coat\n": r"image: row 1 of t.csv: image file .*missing.png does not exist",
        "img/notes.png,a note\n": r"image: row 1 of t.csv: .*notes.png is not a readable image",
        ",a hat\n": r"image: row 1 of t.csv has no image path",
    }
    for bad_row, message in cases.items():
        (tmp_path / "t.csv").write_text("image,caption\nimg/boot.png,a boot\n" + bad_row)
        with pytest.raises(ValueError, match=message):
            read_image_captions(tmp_path / "t.csv")
    (tmp_path / "t.csv").write_text("picture,caption\nimg/boot.png,a boot\n")
    with pytest.raises(ValueError, match="columns"):
        read_image_captions(tmp_path / "t.csv")
    (tmp_path / "t.csv").write_text("image,caption\n")
    with pytest.raises(ValueError, match="no rows"):
        read_image_captions(tmp_path / "t.csv")


def test_root_and_absolute_paths(tmp_path):
    _folder(tmp_path)
    (tmp_path / "t.jsonl").write_text(json.dumps({"file": "dress.png", "text": "a dress"}) + "\n" +
                                      json.dumps({"file": str(tmp_path / "img/boot.png"), "text": "a boot"}))
    data = read_image_captions(tmp_path / "t.jsonl", "file", "text", root=tmp_path / "img", size=(8, 4),
                               channels=3)
    assert data.images.shape == (2, 3, 8, 4) and data.groups().tolist() == [0, 1]
