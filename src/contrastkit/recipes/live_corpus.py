"""Search corpora that are not embedding files: an image folder or a caption table, embedded on the
fly with the run's tower for that kind of input (the image tower / the text tower of a two-tower run).

``contrastkit search RUN "a red dress" --corpus images/`` embeds the folder with the image tower and
the query with the text tower; ``contrastkit search RUN photo.png --corpus captions.csv`` the reverse.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data import list_images, read_table
from ..data.caption_table import load_resized
from ..train.embedding import embed_all
from .inference import BATCH, load_tower, run_input_spec, search

EMBEDDING_SUFFIXES = (".npy", ".parquet")
TEXT_COLUMNS = ("text", "caption")


def is_live_corpus(path: str | Path) -> bool:
    """A folder, or a table that is not an embedding file written by ``contrastkit embed``."""
    path = Path(path)
    if path.is_dir():
        return True
    if path.suffix.lower() in (".jsonl", ".csv", ".tsv"):
        return True
    if path.suffix.lower() == ".parquet" and path.is_file():
        import pyarrow.parquet as pq

        return "embedding" not in pq.read_schema(path).names
    return False


def tower_for(run_dir: str | Path, kind: str, option: str) -> str | None:
    """The tower of a several-tower run whose input is ``kind`` (``None`` for a one-tower run whose
    encoder takes ``kind``). ``option`` names the CLI option that would choose one explicitly."""
    folder = Path(run_dir) / "towers"
    names = sorted(p.name for p in folder.glob("*") if p.is_dir()) if folder.is_dir() else []
    matching = [n for n in names if run_input_spec(run_dir, n).get("kind") == kind]
    if len(matching) == 1:
        return matching[0]
    if not names and run_input_spec(run_dir).get("kind") == kind:
        return None
    if len(matching) > 1:
        raise ValueError(f"{option}: several towers take {kind} inputs ({matching}); choose one")
    raise ValueError(f"{option}: this run has no tower for {kind} inputs "
                     f"(towers: {names or ['(one shared tower)']})")


def text_column(path: Path) -> list[str]:
    """The ``text`` (or else ``caption``) column of a table."""
    table = read_table(path)
    for column in TEXT_COLUMNS:
        if column in table:
            texts = [str(t) for t in table[column]]
            empty = [i for i, t in enumerate(texts) if not t.strip()]
            if empty:
                raise ValueError(f"--corpus: row {empty[0]} of {path.name} has an empty {column}")
            return texts
    raise ValueError(f"--corpus: {path.name} has no column named one of {list(TEXT_COLUMNS)} "
                     f"(columns: {list(table)})")


def _read(path: Path, spec: dict) -> np.ndarray:
    """The training transform of image-caption tables (``load_resized``: cover, centre crop)."""
    try:
        return load_resized(path, tuple(spec["image_size"]), spec["channels"])
    except (OSError, ValueError, SyntaxError) as error:  # PIL: OSError, ValueError, SyntaxError
        raise ValueError(f"--corpus: cannot read the image {path} ({error})") from None


def embed_live_corpus(run_dir, corpus, device: torch.device, tower: str | None = None
                      ) -> tuple[np.ndarray, list[str], str | None]:
    """``(vectors, names, tower)``: an image folder embedded with the image tower (names are the file
    paths relative to the folder; images of any size through the transform of image-caption tables,
    docs/image_text.md), a table's texts with the text tower (names are the texts)."""
    corpus = Path(corpus)
    if not corpus.exists():
        raise ValueError(f"--corpus: {corpus} does not exist")
    if corpus.is_dir():
        tower = tower if tower is not None else tower_for(run_dir, "image", "--corpus-tower")
        spec = run_input_spec(run_dir, tower)
        files = list_images(corpus)
        if not files:
            raise ValueError(f"--corpus: no images found in {corpus}")
        encoder, _ = load_tower(run_dir, device, tower)
        vectors = []
        for start in range(0, len(files), BATCH):
            images = torch.from_numpy(np.stack([_read(f, spec) for f in files[start : start + BATCH]]))
            vectors.append(embed_all(encoder, images, device, BATCH).numpy())
        names = [str(f.relative_to(corpus)) for f in files]
        return np.concatenate(vectors).astype(np.float32), names, tower
    texts = text_column(corpus)
    tower = tower if tower is not None else tower_for(run_dir, "text", "--corpus-tower")
    encoder, _ = load_tower(run_dir, device, tower)
    return embed_all(encoder, texts, device, BATCH).numpy().astype(np.float32), texts, tower


def search_any(run_dir, query: str, corpus, k: int, device: torch.device, tower: str | None = None,
               corpus_tower: str | None = None) -> list[tuple[int, float, str]]:
    """:func:`.inference.search` over an embedding file, or over an image folder / caption table
    embedded on the fly; in a several-tower run the query then goes through the tower for its kind
    (an image file: the image tower, a text: the text tower) unless ``tower`` names one."""
    if k < 1:
        raise ValueError(f"--k: expected a positive int, got {k}")
    if not is_live_corpus(corpus):
        return search(run_dir, query, corpus, k, device, tower)
    vectors, names, _ = embed_live_corpus(run_dir, corpus, device, corpus_tower)
    if tower is None and (Path(run_dir) / "towers").is_dir():
        tower = tower_for(run_dir, "image" if Path(query).is_file() else "text", "--tower")
    return search(run_dir, query, (vectors, names), k, device, tower)
