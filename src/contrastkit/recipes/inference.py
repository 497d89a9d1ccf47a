"""Use a trained run: load its encoder, embed files or folders into .npy / parquet, search them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .._atomic import atomic_write, atomic_write_json
from ..data import list_images, load_idx, load_npz, load_texts, read_image
from ..encoders import SAVEABLE, load_module, save_module
from ..train.callbacks import progress
from ..train.embedding import embed_all

BATCH = 256


TEXT_MARKER = "contrastkit_input.json"


def save_run_encoder(folder: Path, encoder: torch.nn.Module, input_spec: dict, recipe: str) -> None:
    """Save the trained encoder: a registered module as ``config.json`` + safetensors; a text
    encoder with its own ``save`` (a sentence-transformers folder) plus a small input marker."""
    if type(encoder).__name__ in SAVEABLE:
        save_module(folder, encoder, {"input": input_spec, "recipe": recipe})
    elif hasattr(encoder, "save"):
        encoder.save(folder)
        atomic_write_json(Path(folder) / TEXT_MARKER, {"input": input_spec, "recipe": recipe})
    else:
        raise ValueError(f"encoder: {type(encoder).__name__} can be neither saved nor reloaded")


def load_run_encoder(run_dir: str | Path, device: torch.device, sub: str | None = "model"
                     ) -> tuple[torch.nn.Module, dict]:
    """The trained encoder saved in ``RUN_DIR/model`` (``sub``; ``None``: ``run_dir`` is the
    encoder's folder, e.g. ``RUN_DIR/towers/NAME``) and its input description. Weights that are
    not safetensors (e.g. a pickled ``torch.save`` file) are a ``ValueError``: nothing is unpickled."""
    from pickle import UnpicklingError

    from safetensors import SafetensorError

    folder = Path(run_dir) / sub if sub else Path(run_dir)
    try:
        return _load_run_encoder(folder, run_dir, device)
    except (SafetensorError, UnpicklingError) as error:
        raise ValueError(f"run_dir: the weights in {folder} are not a valid safetensors "
                         f"file ({error}); contrastkit never unpickles weights") from None


def tower_folder(run_dir: str | Path, tower: str | None) -> Path:
    """``RUN_DIR/model`` without ``tower``, else ``RUN_DIR/towers/NAME`` (which must exist)."""
    if tower is None:
        return Path(run_dir) / "model"
    folder = Path(run_dir) / "towers" / tower
    if not folder.is_dir():
        names = sorted(p.name for p in (Path(run_dir) / "towers").glob("*"))
        raise ValueError(f"--tower {tower}: not a tower of this run; expected one of "
                         f"{names or ['(none: the run has one shared tower; leave --tower out)']}")
    return folder


def run_input_spec(run_dir: str | Path, tower: str | None = None) -> dict:
    """The input description saved with the run's encoder (or tower), read without loading the
    weights (so a bad input is reported before a model is loaded)."""
    folder = tower_folder(run_dir, tower)
    try:
        if (folder / TEXT_MARKER).is_file():
            return json.loads((folder / TEXT_MARKER).read_text())["input"]
        if (folder / "config.json").is_file():
            extra = json.loads((folder / "config.json").read_text()).get("extra", {})
            return extra.get("input", {"kind": "other"})
    except (ValueError, KeyError, AttributeError) as error:
        raise ValueError(f"run_dir: {folder} has an unreadable model description ({error})") from None
    raise ValueError(f"run_dir: {run_dir} has no trained model (model/config.json); is training finished?")


def _load_run_encoder(folder: Path, run_dir, device: torch.device) -> tuple[torch.nn.Module, dict]:
    if (folder / TEXT_MARKER).is_file():
        from ..encoders.text import TextEncoder

        spec = json.loads((folder / TEXT_MARKER).read_text())["input"]
        return TextEncoder.load(folder).to(device).eval(), spec
    if not (folder / "config.json").is_file():
        raise ValueError(
            f"run_dir: {run_dir} has no trained model (model/config.json); is training finished?"
        )
    encoder, extra = load_module(folder, device)
    return encoder, extra.get("input", {"kind": "other"})


def load_tower(run_dir: str | Path, device: torch.device, tower: str | None = None
               ) -> tuple[torch.nn.Module, dict]:
    """The encoder ``embed`` / ``search`` use: ``RUN_DIR/model`` by default; with ``tower`` the tower
    saved in ``RUN_DIR/towers/NAME`` followed by its head (the space towers share)."""
    if tower is None:
        return load_run_encoder(run_dir, device)
    folder = tower_folder(run_dir, tower)
    encoder, spec = load_run_encoder(folder, device, sub=None)
    if (folder / "head" / "config.json").is_file():
        head, _ = load_module(folder / "head", device)
        encoder = torch.nn.Sequential(encoder, head).eval()
    return encoder, spec


def fit_images(images: torch.Tensor, channels: int, size: list[int]) -> torch.Tensor:
    """Convert ``(N, C, H, W)`` images to the encoder's channels (grey <-> RGB) and size (bilinear)."""
    if images.shape[1] != channels:
        if images.shape[1] == 3 and channels == 1:
            images = images.mean(dim=1, keepdim=True)
        elif images.shape[1] == 1 and channels == 3:
            images = images.expand(-1, 3, -1, -1)
        else:
            raise ValueError(f"input: images have {images.shape[1]} channels, the encoder expects {channels}")
    if list(images.shape[2:]) != list(size):
        images = F.interpolate(images, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
    return images.contiguous()


def image_batches(path: str | Path, spec: dict) -> tuple[int, Iterator[tuple[torch.Tensor, list[str]]]]:
    """``(count, iterator of (images, names))`` for an image file or folder (read lazily, one batch
    at a time), an ``.npz`` archive, or an IDX file (``.gz`` too)."""
    path = Path(path)
    channels, size = spec["channels"], spec["image_size"]
    name = path.name.lower()
    if path.is_file() and (name.endswith(".npz") or "idx" in name or name.endswith("-ubyte")):
        data = load_npz(path) if name.endswith(".npz") else load_idx(path)
        images = fit_images(data.images, channels, size)

        def from_array():
            for start in range(0, len(images), BATCH):
                yield images[start : start + BATCH], data.names[start : start + BATCH]

        return len(images), from_array()
    files = list_images(path)
    if not files:
        raise ValueError(f"input: no images found at {path}")
    root = path if path.is_dir() else path.parent
    for f in files:  # names.txt holds one name per line
        if any(c in str(f.relative_to(root)) for c in "\n\r"):
            raise ValueError(f"input: the file name {str(f.relative_to(root))!r} contains a line break; "
                             "rename it (the names sidecar holds one name per line)")

    def read(f: Path) -> np.ndarray:
        try:
            return read_image(f, tuple(size), channels)
        except (OSError, ValueError, SyntaxError) as error:  # PIL: OSError, ValueError, SyntaxError
            raise ValueError(f"input: cannot read the image {f} ({error})") from None

    def from_files():
        for start in range(0, len(files), BATCH):
            chunk = files[start : start + BATCH]
            images = torch.from_numpy(np.stack([read(f) for f in chunk]))
            yield images, [str(f.relative_to(root)) for f in chunk]

    return len(files), from_files()


def read_text_lines(path: str | Path) -> list[str]:
    """One text per line of a ``.txt`` file; an empty line is an error naming it."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    empty = next((i for i, line in enumerate(lines, 1) if not line.strip()), None)
    if empty is not None or not lines:
        raise ValueError(f"input: {Path(path).name} line {empty or 1} is empty (expected one text per line)")
    return lines


def text_batches(path: str | Path) -> tuple[int, Iterator[tuple[list[str], list[str]]]]:
    """The lines of a ``.txt`` file or the ``text`` column of a jsonl / csv / parquet file, in batches;
    names are the texts themselves (whitespace runs as one space), so `search` prints matched texts."""
    if Path(path).is_dir():
        raise ValueError(f"input: {path} is a folder, but this run's encoder takes texts: give a "
                         ".txt, .jsonl, .csv or .parquet file")
    texts = read_text_lines(path) if Path(path).suffix.lower() == ".txt" else load_texts(path).texts

    def batches():
        for start in range(0, len(texts), BATCH):
            chunk = texts[start : start + BATCH]
            yield chunk, [" ".join(text.split()) for text in chunk]

    return len(texts), batches()


def input_batches(path: str | Path, spec: dict):
    if spec.get("kind") == "image":
        return image_batches(path, spec)
    if spec.get("kind") == "text":
        return text_batches(path)
    raise ValueError(
        f"input: this run's encoder takes {spec.get('kind')!r} inputs; contrastkit has no reader for them yet"
    )


def embed_file(run_dir, input_path, output, device: torch.device, quiet: bool = False,
               tower: str | None = None) -> tuple[int, int]:
    """Stream the embeddings of ``input_path`` into ``output`` (``.npy`` + ``.names.txt`` sidecar,
    or ``.parquet`` with ``name`` and ``embedding`` columns). Returns ``(rows, dimension)``."""
    output = Path(output)
    if output.suffix not in (".npy", ".parquet"):
        raise ValueError(f"output: expected a .npy or .parquet file name, got {output.name}")
    if not Path(input_path).exists():
        raise ValueError(f"input: {input_path} does not exist")
    if not output.parent.is_dir():
        raise ValueError(f"output: the folder {output.parent} does not exist (create it first)")
    count, batches = input_batches(input_path, run_input_spec(run_dir, tower))  # check the input first
    encoder, _ = load_tower(run_dir, device, tower)
    names: list[str] = []

    def embedded():
        for images, batch_names in progress(
            batches, total=-(-count // BATCH), description="embed", quiet=quiet
        ):
            names.extend(batch_names)
            yield embed_all(getattr(encoder, "embed", encoder), images, device, BATCH).numpy()

    if output.suffix == ".npy":
        dim = [0]

        def write_npy(tmp: Path):
            array, row = None, 0
            for chunk in embedded():
                if array is None:
                    dim[0] = chunk.shape[1]
                    array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(count, dim[0]))
                array[row : row + len(chunk)] = chunk
                row += len(chunk)
            array.flush()
            del array

        atomic_write(output, write_npy)
        atomic_write(Path(f"{output}.names.txt"), lambda tmp: tmp.write_text("\n".join(names) + "\n"))
        return count, dim[0]
    import pyarrow as pa
    import pyarrow.parquet as pq

    dim = [0]

    def write_parquet(tmp: Path):
        writer = None
        for chunk in embedded():
            dim[0] = chunk.shape[1]
            batch_names = names[-len(chunk) :]
            table = pa.table(
                {
                    "name": batch_names,
                    "embedding": pa.FixedSizeListArray.from_arrays(chunk.reshape(-1), chunk.shape[1]),
                }
            )
            writer = writer or pq.ParquetWriter(str(tmp), table.schema)
            writer.write_table(table)
        writer.close()

    atomic_write(output, write_parquet)
    return count, dim[0]


def read_corpus(path: str | Path) -> tuple[np.ndarray, list[str]]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--corpus: {path} does not exist (make it with `contrastkit embed`)")
    if path.suffix == ".npy":
        vectors = np.load(path, allow_pickle=False)
        sidecar = Path(f"{path}.names.txt")
        names = (
            sidecar.read_text().splitlines() if sidecar.is_file() else [str(i) for i in range(len(vectors))]
        )
    elif path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        vectors = np.stack(table.column("embedding").to_numpy(zero_copy_only=False)).astype(np.float32)
        names = [str(n) for n in table.column("name").to_pylist()]
    else:
        raise ValueError(f"--corpus: expected a .npy or .parquet file, got {path.name}")
    if vectors.ndim != 2 or len(names) != len(vectors):
        raise ValueError(f"--corpus: {path.name} is not an (N, d) embedding file with N names")
    return vectors.astype(np.float32), names


def search(run_dir, query: str, corpus, k: int, device: torch.device, tower: str | None = None
           ) -> list[tuple[int, float, str]]:
    """Top-``k`` corpus rows by cosine similarity to ``query``: an image file (embedded with the
    run's encoder, or ``tower``), the name of a corpus row, or a text for a text encoder. The
    corpus is an embedding file or ``(vectors, names)`` (see :func:`.live_corpus.search_any`).
    Returns ``(row, similarity, name)`` triples."""
    if k < 1:
        raise ValueError(f"--k: expected a positive int, got {k}")
    if not query.strip():
        raise ValueError("query: empty text (expected a file, a text or a corpus row name)")
    vectors, names = corpus if isinstance(corpus, tuple) else read_corpus(corpus)
    if Path(query).is_file():
        encoder, spec = load_tower(run_dir, device, tower)
        _, batches = input_batches(query, spec)
        images, _ = next(iter(batches))
        vector = embed_all(encoder, images, device).numpy()[0]
    elif query in names and tower is None:
        vector = vectors[names.index(query)]
    else:
        encoder, spec = load_tower(run_dir, device, tower)
        if spec.get("kind") != "text":
            raise ValueError(
                f"query: {query!r} is neither an existing file nor a row name of the corpus"
            )
        vector = embed_all(getattr(encoder, "embed", encoder), [query], device).numpy()[0]  # a text
    if vector.shape[0] != vectors.shape[1]:
        raise ValueError(
            f"--corpus: dimension {vectors.shape[1]} does not match the encoder's {vector.shape[0]}"
        )
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    scores = unit @ (vector / max(float(np.linalg.norm(vector)), 1e-12))
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), float(scores[i]), names[i]) for i in order]


def describe_json(rows) -> str:
    return json.dumps([{"row": r, "similarity": s, "name": n} for r, s, n in rows])
