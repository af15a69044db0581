"""Write outputs atomically: a hidden staging folder beside the target, renamed into place at the end.

A run that fails (or is killed) leaves no folder at ``--output`` that looks complete: the final rename is
the only commit point. Parquet files are written in fixed-size row groups from contiguous arrays, so the
bytes depend on the rows alone, never on the batch size that produced them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import OutputError

DEFAULT_ROW_GROUP_ROWS = 5_000


def check_output(output: Path, overwrite: bool) -> None:
    """Refuse an existing non-empty output unless ``overwrite``; check this before any work is done."""
    if output.exists() and not output.is_dir():
        raise OutputError(f"{output}: exists and is not a folder")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise OutputError(f"{output}: folder exists and is not empty (use --overwrite to replace it)")
    parent = output.resolve().parent
    if not parent.exists():
        parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{parent}: folder is not writable")


@contextlib.contextmanager
def staging(output: Path, overwrite: bool) -> Iterator[Path]:
    """Yield a fresh staging folder; on success it replaces ``output``, on any error it is removed."""
    check_output(output, overwrite)
    output = output.resolve()
    stage = output.parent / f".{output.name}.tmp-{uuid.uuid4().hex[:8]}"
    stage.mkdir()
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _commit(stage, output)


def _commit(stage: Path, output: Path) -> None:
    old = None
    if output.exists():
        old = output.parent / f".{output.name}.old-{uuid.uuid4().hex[:8]}"
        output.rename(old)
    stage.rename(output)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class ParquetSink:
    """A Parquet file written in row groups of exactly ``row_group_rows`` rows (the last may be shorter)."""

    def __init__(self, path: Path, schema: pa.Schema, row_group_rows: int = DEFAULT_ROW_GROUP_ROWS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.schema = schema
        self.row_group_rows = row_group_rows
        self.rows = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._writer = pq.ParquetWriter(path, schema, compression="snappy", write_statistics=True)

    def write(self, table: pa.Table) -> None:
        table = table.select(self.schema.names).cast(self.schema)
        self._pending.append(table)
        self._pending_rows += len(table)
        while self._pending_rows >= self.row_group_rows:
            self._flush(self.row_group_rows)

    def _flush(self, rows: int) -> None:
        pending = pa.concat_tables(self._pending)
        group, rest = pending.slice(0, rows), pending.slice(rows)
        self._writer.write_table(group.combine_chunks(), row_group_size=rows)
        self.rows += len(group)
        self._pending, self._pending_rows = ([rest] if len(rest) else []), len(rest)

    def close(self) -> None:
        if self._pending_rows:
            self._flush(self._pending_rows)
        self._writer.close()
