"""Parquet splits in the Hub layout, written in fixed-size row groups from contiguous arrays, so the bytes
depend on the rows alone, never on the batch size that produced them, and optionally a ``save_to_disk`` copy
(the folder they go to is staged and committed by :mod:`distill_data.output_folder`)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .dataset_folder import DatasetFolder, shard_name, unfinished_shard_name

DEFAULT_ROW_GROUP_ROWS = 5_000
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
            part = self.directory / unfinished_shard_name(self.split, len(self._parts))
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
            final = self.directory / shard_name(self.split, index, total)
            part.rename(final)
            self.paths.append(final)
        return self.paths


def save_to_disk(stage: Path, split_names: list[str]) -> None:
    """Also write a ``DatasetDict.save_to_disk`` folder at ``arrow/`` from the Parquet splits."""
    from datasets import Dataset, DatasetDict
    from datasets.table import InMemoryTable

    folder = DatasetFolder(stage)
    files = folder.split_files()
    # The Parquet schema carries the `datasets` features, so the loaded tables need no cast.
    splits = {
        name: Dataset(InMemoryTable(pa.concat_tables([pq.read_table(p) for p in files[name]])))
        for name in split_names
        if name in files
    }
    DatasetDict(splits).save_to_disk(str(folder.arrow))
