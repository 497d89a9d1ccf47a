"""A sentence-transformers ``modules.json`` may only name sub-folders of its own folder (issue 14
item 6): an entry pointing elsewhere is refused before anything is loaded from there."""

from __future__ import annotations

import json

import pytest

from contrastkit.encoders.text import TextEncoder
from contrastkit.encoders.text_folder import load_text_encoder


def _folder(tmp_path, transformer_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "elsewhere").mkdir()
    modules = [{"idx": 0, "name": "0", "path": transformer_path,
                "type": "sentence_transformers.models.Transformer"}]
    (folder / "modules.json").write_text(json.dumps(modules))
    return folder


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_modules_json_path_outside_the_folder_is_refused(tmp_path, how):
    target = tmp_path / "elsewhere"
    folder = _folder(tmp_path, {"dotdot": "../elsewhere", "absolute": str(target),
                                "symlink": "linked"}[how])
    if how == "symlink":
        (folder / "linked").symlink_to(target)
    with pytest.raises(ValueError, match=r"modules\.json: path: .* resolves outside"):
        load_text_encoder(TextEncoder, folder)
