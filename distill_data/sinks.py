"""Write outputs atomically: a hidden staging folder beside the target, renamed into place at the end.

A run that fails (or is killed) leaves no folder at ``--output`` that looks complete: the final rename is
the only commit point. Parquet files are written in fixed-size row groups from contiguous arrays, so the
bytes depend on the rows alone, never on the batch size that produced them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
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
def staging(output: Path, overwrite: bool, folder: Path | None = None) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces ``output``, on any error it is removed.

    The folder is a fresh one with a random name, or ``folder`` (the work folder of a resumable run, which a
    kill leaves behind for ``--resume``), created if missing.
    """
    check_output(output, overwrite)
    output = output.resolve()
    stage = folder or output.parent / f".{output.name}.tmp-{uuid.uuid4().hex[:8]}"
    stage.mkdir(exist_ok=folder is not None)
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _commit(stage, output)


def _commit(stage: Path, output: Path) -> None:
    """Put ``stage`` at ``output``. An existing output is swapped with the stage in one atomic step where the
    system can (Linux), so a run killed at any moment leaves the old output or the new one, never neither."""
    if output.exists() and _exchange(stage, output):
        shutil.rmtree(stage, ignore_errors=True)  # it now holds the old output
        return
    old = None
    if output.exists():
        old = output.parent / f".{output.name}.old-{uuid.uuid4().hex[:8]}"
        output.rename(old)
    stage.rename(output)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # a C library without it (glibc < 2.28)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # a file system or kernel without exchange
        return False
    raise OSError(code, os.strerror(code), str(second))


DEFAULT_SHARD_BYTES = 256 * 2**20


class ParquetSink:
    """One split as Parquet shards ``<split>-0000k-of-0000N.parquet`` in ``directory``.

    Row groups hold exactly ``row_group_rows`` rows (the last may be shorter), written from contiguous arrays; a
    new shard starts once a shard holds ``max_shard_bytes`` of Arrow data. Both depend on the rows alone, so the
    files are the same whatever the batch size that produced them. Shards are named when the split is closed
    (the total is known only then); a split without rows writes no file.
    """

    def __init__(
        self,
        directory: Path,
        split: str,
        schema: pa.Schema,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
        max_shard_bytes: int = DEFAULT_SHARD_BYTES,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.split = split
        self.schema = schema
        self.row_group_rows = row_group_rows
        self.max_shard_bytes = max_shard_bytes
        self.rows = 0
        self.paths: list[Path] = []
        self._parts: list[Path] = []
        self._writer: pq.ParquetWriter | None = None
        self._shard_bytes = 0
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def write(self, table: pa.Table) -> None:
        table = table.select(self.schema.names).cast(self.schema)
        self._pending.append(table)
        self._pending_rows += len(table)
        while self._pending_rows >= self.row_group_rows:
            self._flush(self.row_group_rows)

    def _flush(self, rows: int) -> None:
        pending = pa.concat_tables(self._pending)
        group, rest = pending.slice(0, rows).combine_chunks(), pending.slice(rows)
        if self._writer is None:
            part = self.directory / f".{self.split}-{len(self._parts):05d}.parquet.part"
            self._parts.append(part)
            self._writer = pq.ParquetWriter(part, self.schema, compression="snappy", write_statistics=True)
            self._shard_bytes = 0
        self._writer.write_table(group, row_group_size=rows)
        self.rows += len(group)
        self._shard_bytes += group.nbytes
        if self._shard_bytes >= self.max_shard_bytes:
            self._writer.close()
            self._writer = None
        self._pending, self._pending_rows = ([rest] if len(rest) else []), len(rest)

    def close(self) -> list[Path]:
        """Finish the last shard and give every shard its final name; returns the paths."""
        if self._pending_rows:
            self._flush(self._pending_rows)
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        total = len(self._parts)
        for index, part in enumerate(self._parts):
            final = self.directory / f"{self.split}-{index:05d}-of-{total:05d}.parquet"
            part.rename(final)
            self.paths.append(final)
        return self.paths
