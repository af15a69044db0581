"""The fast path of a source: whole Arrow tables of raw rows converted at once, instead of row by row.

JSON Lines files come in blocks parsed by Arrow (:mod:`.jsonl_blocks`); Parquet files and Hub datasets already
are Arrow, narrowed here to the fields the source reads. A table is converted by the source's ``convert``
function, which returns None when some row might not convert. Whatever the fast path refuses (a block Arrow
could read differently from ``json.loads``, columns of other types, a string that is not UTF-8, a row with a
problem) is read row by row instead, so the rows are the same either way and every problem names its file,
line or row, and field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from .compressed import data_suffix
from .inputs import (
    HubDataset,
    InputRef,
    LocalFile,
    RawRecord,
    batch_records,
    hub_tables,
    jsonl_records,
    parquet_batches,
    read_records,
)
from .jsonl_blocks import BLOCK_BYTES, LineBlock, arrow_rows, line_blocks

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
        elif data_suffix(ref.path) == ".jsonl":
            items = self._jsonl(ref)
        elif ref.path.suffix == ".parquet":
            items = self._tables(ref.label, parquet_batches(ref.path, self.table_rows))
        else:  # a JSON array: one document, parsed whole by json.loads
            yield from read_records(ref)
            return
        empty = True
        for item in items:
            empty = empty and isinstance(item, pa.Table) and item.num_rows == 0
            yield item
        if empty:
            yield RawRecord(ref.label, None, error="empty input: no rows")

    def _jsonl(self, ref: LocalFile) -> Iterator[RawRecord | pa.Table]:
        for block in line_blocks(ref.path, self.block_bytes):
            if not isinstance(block, LineBlock):  # unreadable past here: the row-by-row reader names the line
                yield from jsonl_records(ref.path, skip_lines=block.after_line)
                return
            parsed = arrow_rows(block, self.parse_schema)
            table = None if parsed is None else self.convert(parsed)
            if table is not None:
                yield table
            else:
                yield from jsonl_records(ref.path, block.lines())

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


def narrow(table: pa.Table, schema: pa.Schema) -> pa.Table | None:
    """``table`` with only the (nested) fields of ``schema``, by name, or None when one is of another type or a
    string is not UTF-8 (the row-by-row reader names the row then). A field the table lacks is null: the
    conversion treats a missing value and a null alike, or refuses the table."""
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = _narrow(table.column(field.name).combine_chunks(), field.type)
        else:
            column = pa.nulls(table.num_rows, field.type)
        if column is None:
            return None
        columns.append(column)
    narrowed = pa.Table.from_arrays(columns, schema=schema)
    try:
        narrowed.validate(full=True)  # checks, among the rest, that every string is UTF-8
    except pa.ArrowInvalid:
        return None
    return narrowed


def _narrow(array: pa.Array, target: pa.DataType) -> pa.Array | None:
    if array.type == target:
        return array
    if pa.types.is_null(array.type):  # every value null (Parquet and `datasets` type an all-null column so)
        return pa.nulls(len(array), target)
    if pa.types.is_large_string(array.type) and pa.types.is_string(target):
        return array.cast(target)
    if pa.types.is_struct(target) and pa.types.is_struct(array.type):
        children = []
        for field in target:
            if array.type.get_field_index(field.name) < 0:
                children.append(pa.nulls(len(array), field.type))
                continue
            child = _narrow(array.field(field.name), field.type)
            if child is None:
                return None
            children.append(child)
        return pa.StructArray.from_arrays(children, fields=list(target), mask=array.is_null())
    if pa.types.is_list(target) and (pa.types.is_list(array.type) or pa.types.is_large_list(array.type)):
        values = _narrow(array.values, target.value_type)
        if values is None or len(values) > 2**31 - 1:
            return None
        offsets = array.offsets.cast(pa.int32())
        return pa.ListArray.from_arrays(offsets, values, type=target, mask=array.is_null())
    return None
