"""Paths read from files (checkpoint JSON, ``modules.json``) must stay inside their folder."""

from __future__ import annotations

from pathlib import Path


def confined(folder: Path, name, what: str, *, plain: bool = False) -> Path:
    """``folder / name`` when it resolves inside ``folder`` (or to ``folder`` itself, for ``""``);
    ``plain=True`` also requires a bare file name. ``ValueError`` starting with ``what`` for an
    absolute path, ``..`` or a link that leads out of ``folder``."""
    if not isinstance(name, str) or (plain and (not name or Path(name).name != name)):
        raise ValueError(f"{what}: {name!r} is not a plain file name inside {folder}")
    path = folder / name
    root = folder.resolve()
    resolved = path.resolve()
    if (resolved != root and root not in resolved.parents) or (plain and resolved.parent != root):
        raise ValueError(f"{what}: {name!r} resolves outside {folder}")
    return path
