"""Tables as memory-mapped Arrow files, so that a corpus of millions of rows is not held in RAM.

A ``.parquet`` file is compressed and cannot be mapped; it is converted once, row group by row group,
to an uncompressed Arrow IPC file in the cache folder (``$CONTRASTKIT_CACHE`` or
``~/.cache/contrastkit``), keyed by the parquet file's path, size and modification time. Reading a
batch then gathers its rows from the mapped file: only the pages those rows live on are touched.
jsonl / csv / tsv files are read into an in-memory Arrow table.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_folder() -> Path:
    root = os.environ.get("CONTRASTKIT_CACHE") or Path.home() / ".cache" / "contrastkit"
    return Path(root) / "arrow"


def _cache_path(path: Path, columns: list[str]) -> Path:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{','.join(columns)}"
    return cache_folder() / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.arrow"


def parquet_columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.ParquetFile(path).schema_arrow.names)


def mapped_parquet(path: Path, columns: list[str]):
    """``columns`` of a parquet file as a ``pyarrow.Table`` backed by a memory-mapped Arrow file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = _cache_path(path, columns)
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        source = pq.ParquetFile(path)
        partial = target.with_suffix(f".{os.getpid()}.part")
        with pa.OSFile(str(partial), "wb") as sink:
            writer = None
            for batch in source.iter_batches(batch_size=65_536, columns=columns):
                if writer is None:
                    writer = pa.ipc.new_file(sink, batch.schema)
                writer.write_batch(batch)
            if writer is None:  # an empty file: write its schema
                writer = pa.ipc.new_file(sink, source.schema_arrow.select(columns) if columns else
                                         source.schema_arrow)
            writer.close()
        partial.replace(target)
    return pa.ipc.open_file(pa.memory_map(str(target), "r")).read_all()


def text_table(columns: dict[str, list]):
    """An in-memory ``pyarrow.Table`` of ``{column: values}`` read from jsonl / csv / tsv."""
    import pyarrow as pa

    return pa.table(columns)
