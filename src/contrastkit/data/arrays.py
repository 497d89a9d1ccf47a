"""Images stored in ``.npz`` archives."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .images import ImageData, to_image_tensor, to_labels

IMAGE_KEYS = ("images", "x", "X", "data")
LABEL_KEYS = ("labels", "y", "Y", "targets")


def load_npz(path: str | Path, images_key: str | None = None, labels_key: str | None = None) -> ImageData:
    """Read images (and labels when present) from an ``.npz`` file. Without explicit keys the first
    of ``images, x, X, data`` and of ``labels, y, Y, targets`` present is used. Never unpickles."""
    with np.load(Path(path), allow_pickle=False) as archive:
        keys = list(archive.keys())

        def pick(explicit, candidates, what, required):
            if explicit is not None:
                if explicit not in keys:
                    raise ValueError(f"{what}: key {explicit!r} not in {path} (keys: {keys})")
                return explicit
            found = next((k for k in candidates if k in keys), None)
            if found is None and required:
                raise ValueError(f"{what}: none of {candidates} in {path} (keys: {keys})")
            return found

        image_key = pick(images_key, IMAGE_KEYS, "images_key", True)
        label_key = pick(labels_key, LABEL_KEYS, "labels_key", False)
        images = to_image_tensor(archive[image_key], f"{path}[{image_key}]")
        labels = (
            None
            if label_key is None
            else to_labels(archive[label_key], images.shape[0], f"{path}[{label_key}]")
        )
    return ImageData(images, labels)
