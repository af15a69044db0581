"""RowSource: raw rows from any input, converted one by one into Arrow batches with a fixed schema.

Each kind of raw data supplies a ``convert`` function (raw JSON value -> dict of the schema's columns) that
raises :class:`FieldProblem` naming the offending field. With ``on_error="fail"`` the first problem raises
:class:`~distill_data.errors.InputError` (file, line or row, field); with ``"skip"`` the row is written to
``rejects`` with its reason and counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import pyarrow as pa

from ..errors import InputError
from .columnar import ColumnarReader
from .inputs import (
    InputRef,
    RawRecord,
    estimate_rows,
    lone_surrogate,
    read_records,
    reject_line,
    resolve_inputs,
)


class FieldProblem(Exception):
    """A raw row that does not fit its schema, with the offending field (``data[2]``, ``completions[0].model``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def kind_of(value: Any) -> str:
    """A JSON-ish name of a value's type, for error messages."""
    return "null" if value is None else type(value).__name__


def check_text(text: str, field: str) -> str:
    """``text``, unless it holds a lone surrogate (JSON allows the escape ``\\ud800``): that is not Unicode
    text and neither UTF-8 nor Arrow can store it, so it is a problem of the row, not a crash later."""
    position = lone_surrogate(text)
    if position is not None:
        code = f"\\u{ord(text[position]):04x}"
        raise FieldProblem(field, f"lone surrogate {code} at character {position} is not valid Unicode")
    return text


@dataclass
class RowSource:
    """Rows from files, globs, folders or Hub ids, as Arrow tables of ``schema``."""

    inputs: list[str]
    convert: Callable[[Any], dict[str, Any]]
    schema: pa.Schema
    on_error: str = "fail"
    batch_size: int = 10_000
    rejects: TextIO | None = None
    rejected: int = field(default=0, init=False)
    rows_read: int = field(default=0, init=False)
    columnar: ColumnarReader | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.on_error not in ("fail", "skip"):
            raise ValueError(f"on_error must be 'fail' or 'skip', got {self.on_error!r}")
        self.refs: list[InputRef] = resolve_inputs(self.inputs)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema.names)

    def estimate_rows(self) -> int | None:
        return estimate_rows(self.refs)

    def describe(self) -> list[dict[str, Any]]:
        """Each input with its checksum (files) or revision (Hub), for provenance."""
        return [ref.describe() for ref in self.refs]

    def batches(self) -> Iterator[pa.Table]:
        """The converted rows in tables of ``batch_size`` rows (the last one shorter), however they were read."""
        pending: list[pa.Table] = []
        size = 0
        for table in self._tables():
            pending.append(table)
            size += table.num_rows
            while size >= self.batch_size:
                rows = pa.concat_tables(pending)
                yield rows.slice(0, self.batch_size).combine_chunks()
                pending, size = [rows.slice(self.batch_size)], size - self.batch_size
        if size:
            yield pa.concat_tables(pending).combine_chunks()

    def _tables(self) -> Iterator[pa.Table]:
        for ref in self.refs:
            if self.columnar is not None:
                yield from self._converted(self.columnar.records_or_tables(ref))
            else:
                yield from self._converted(read_records(ref))

    def _converted(self, items: Iterator[RawRecord | pa.Table]) -> Iterator[pa.Table]:
        """Tables as they come, and records converted one by one, in tables of at most ``batch_size`` rows."""
        rows: list[dict[str, Any]] = []
        for item in items:
            if isinstance(item, pa.Table):
                if rows:
                    yield pa.Table.from_pylist(rows, schema=self.schema)
                    rows = []
                self.rows_read += item.num_rows
                yield item
                continue
            converted = self._convert(item)
            if converted is not None:
                rows.append(converted)
                if len(rows) >= self.batch_size:
                    yield pa.Table.from_pylist(rows, schema=self.schema)
                    rows = []
        if rows:
            yield pa.Table.from_pylist(rows, schema=self.schema)

    def _convert(self, record: RawRecord) -> dict[str, Any] | None:
        if record.error is not None:
            return self._bad(record, None, record.error)
        try:
            converted = self.convert(record.value)
        except FieldProblem as problem:
            return self._bad(record, problem.field, problem.reason)
        self.rows_read += 1
        return converted

    def _bad(self, record: RawRecord, field_name: str | None, reason: str) -> None:
        if self.on_error == "fail":
            raise InputError(reason, file=record.file, location=record.location, field=field_name)
        self.rejected += 1
        if self.rejects is not None:
            self.rejects.write(reject_line(record, field_name, reason) + "\n")
        return None
