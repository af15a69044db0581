"""The fast path of a source: whole Arrow tables of raw rows converted at once, instead of row by row.

Each file format gives its blocks (:meth:`.formats.FileFormat.blocks`: JSON Lines parsed by Arrow, Parquet
batches); Hub datasets already are Arrow; all are narrowed to the fields the source reads. A table is converted
by the source's ``convert`` function, which returns None when some row might not convert. Whatever the fast path
refuses (a block Arrow could read differently from ``json.loads``, columns of other types, a string that is not
UTF-8, a row with a problem) is read row by row instead, so the rows are the same either way and every problem
names its file, line or row, and field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from .formats import Block
from .inputs import HubDataset, InputRef, RawRecord, batch_records, file_format, hub_tables, read_records
from .jsonl_blocks import BLOCK_BYTES
from .narrowing import narrow

__all__ = ["TABLE_ROWS", "ColumnarReader", "narrow"]
TABLE_ROWS = 10_000


@dataclass(frozen=True)
class ColumnarReader:
    """Raw rows parsed as ``parse_schema`` (fields left out are skipped) and converted whole by ``convert``."""

    parse_schema: pa.Schema
    convert: Callable[[pa.Table], pa.Table | None]
    block_bytes: int = BLOCK_BYTES
    table_rows: int = TABLE_ROWS

    def records_or_tables(self, ref: InputRef) -> Iterator[RawRecord | pa.Table]:
        """The input's rows in order: converted tables where the fast path took them, else raw records."""
        if isinstance(ref, HubDataset):
            items = self._tables(ref.label, hub_tables(ref, self.table_rows))
        else:
            blocks = file_format(ref).blocks(ref, self.parse_schema, self.table_rows, self.block_bytes)
            if blocks is None:  # no columnar path (a JSON array: one document, parsed whole by json.loads)
                yield from read_records(ref)
                return
            items = self._blocks(blocks)
        empty = True
        for item in items:
            empty = empty and isinstance(item, pa.Table) and item.num_rows == 0
            yield item
        if empty:
            yield RawRecord(ref.label, None, error="empty input: no rows")

    def _blocks(self, blocks: Iterator[Block]) -> Iterator[RawRecord | pa.Table]:
        for block in blocks:
            table = None if block.table is None else self.convert(block.table)
            if table is not None:
                yield table
            else:
                yield from block.records()

    def _tables(
        self, label: str, batches: Iterator[pa.RecordBatch | pa.Table | RawRecord]
    ) -> Iterator[RawRecord | pa.Table]:
        number = 1
        for batch in batches:
            if isinstance(batch, RawRecord):  # the file could not be read further
                yield batch
                continue
            if isinstance(batch, pa.RecordBatch):
                batch = pa.Table.from_batches([batch])
            narrowed = narrow(batch, self.parse_schema)
            table = None if narrowed is None else self.convert(narrowed)
            if table is not None:
                yield table
            else:
                yield from batch_records(label, batch, number)
            number += batch.num_rows
