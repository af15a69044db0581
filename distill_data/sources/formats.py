"""The file formats inputs may have, in one registry: {suffix: FileFormat}.

A format knows how to read a file's records (each with its file and line or row), its Arrow tables where it can
(the columnar fast path), the whole file as one table (``check``), and how to count its rows cheaply (the progress
bar). Every reader of inputs asks :func:`format_of`, and the supported types in messages come from here, so a new
input format is one :func:`register` call (see CONTRIBUTING.md, "Adding an input format").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, BinaryIO, ClassVar

from .compressed import COMPRESSIONS, READ_ERRORS, compression_of, data_suffix
from .records import RawRecord, batch_records, json_records, jsonl_records

if TYPE_CHECKING:
    import pyarrow as pa

    from .files import InputFile


Select = Callable[[list[str]], "list[str] | None"]


@dataclass(frozen=True)
class Block:
    """Rows of a file read as one Arrow table in the caller's parse schema (None when they cannot be), and how to
    read the same rows one by one instead."""

    table: pa.Table | None
    records: Callable[[], Iterator[RawRecord]]


class FileFormat:
    """One kind of input file. ``records`` is required; the other methods have slower or unknowing defaults."""

    suffix: ClassVar[str]  # ".jsonl"
    family: ClassVar[str] = ""  # "JSON": formats of one family are named together in messages
    compressible: ClassVar[bool] = False  # may be .gz, .bz2, .xz, .zst (decompressed as read)

    def records(self, file: InputFile, batch_rows: int) -> Iterator[RawRecord]:
        """Every row in order as a record located by line or row; problems are records with ``error`` set."""
        raise NotImplementedError

    def blocks(self, file: InputFile, schema: pa.Schema, batch_rows: int, block_bytes: int) -> Iterator[Block] | None:
        """The rows as Arrow tables narrowed to ``schema``, or None when this format has no columnar path."""
        return None

    def table(self, file: InputFile, select: Select | None = None) -> pa.Table:
        """The whole file as one table (raises what reading raises); ``select`` may name the columns to read of
        those present (None: all), for a format that can skip the others."""
        import pyarrow as pa

        return pa.Table.from_pylist([_value(record) for record in self.records(file, 10_000)])

    def estimate_rows(self, file: InputFile) -> int | None:
        """The number of rows when it is cheap to count, else None."""
        return None


FORMATS: dict[str, FileFormat] = {}


def register(file_format: FileFormat) -> FileFormat:
    """Add (or replace) the format of ``file_format.suffix``."""
    FORMATS[file_format.suffix] = file_format
    return file_format


def format_of(path: PurePath) -> FileFormat | None:
    """The format of a file from its name (``rows.jsonl.gz`` -> JSON Lines), or None when none reads it."""
    file_format = FORMATS.get(data_suffix(path))
    if file_format is None or (compression_of(path) is not None and not file_format.compressible):
        return None
    return file_format


def supported_types() -> str:
    """The supported suffixes, for messages: ``.jsonl, .json, .parquet (JSON also compressed: .gz, ...)``."""
    families = list(dict.fromkeys(f.family or f.suffix for f in FORMATS.values() if f.compressible))
    compressed = f" ({' and '.join(families)} also compressed: {', '.join(COMPRESSIONS)})" if families else ""
    return ", ".join(FORMATS) + compressed


def unsupported(path: PurePath) -> str:
    """Why a file is not read: ``unsupported file type '.csv'; expected ...``."""
    file_type = data_suffix(path) + path.suffix if compression_of(path) else path.suffix
    return f"unsupported file type '{file_type}'; expected {supported_types()}"


def stem(path: PurePath) -> str:
    """The file name without its format's suffixes: ``train`` for ``train.jsonl.gz`` and ``train.parquet``."""
    name = path.name
    if compression_of(path) is not None:
        name = name.removesuffix(path.suffix)
    return name.removesuffix(PurePath(name).suffix)


def _value(record: RawRecord) -> object:
    if record.error is not None:
        raise ValueError(f"{record.location or record.file}: {record.error}" if record.location else record.error)
    return record.value


class JsonLines(FileFormat):
    """One JSON value a line; blocks of lines are parsed by Arrow where it reads them as ``json.loads`` would."""

    suffix = ".jsonl"
    family = "JSON"
    compressible = True

    def records(self, file: InputFile, batch_rows: int) -> Iterator[RawRecord]:
        return jsonl_records(file)

    def blocks(self, file: InputFile, schema: pa.Schema, batch_rows: int, block_bytes: int) -> Iterator[Block]:
        from .jsonl_blocks import LineBlock, arrow_rows, line_blocks

        for block in line_blocks(file if file.local is None else file.local, block_bytes):
            if not isinstance(block, LineBlock):  # unreadable past here: the row-by-row reader names the line
                yield Block(None, partial(jsonl_records, file, skip_lines=block.after_line))
                return
            yield Block(arrow_rows(block, schema), partial(jsonl_records, file, block.lines()))

    def table(self, file: InputFile, select: Select | None = None) -> pa.Table:
        import pyarrow.json as pj

        if file.local is not None and compression_of(file.local) is None:
            return pj.read_json(file.local)
        with file.open_binary() as handle:
            return pj.read_json(handle)

    def estimate_rows(self, file: InputFile) -> int | None:
        if file.local is None:  # counting lines means downloading the file
            return None
        try:
            with file.open_binary() as handle:
                return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))
        except READ_ERRORS:  # a damaged file: the reader reports it with its name and line
            return None


class Json(FileFormat):
    """A JSON array of rows (or one object), parsed whole; JSON Lines named ``.json`` are read as such."""

    suffix = ".json"
    family = "JSON"
    compressible = True

    def records(self, file: InputFile, batch_rows: int) -> Iterator[RawRecord]:
        return json_records(file)

    def table(self, file: InputFile, select: Select | None = None) -> pa.Table:
        import pyarrow as pa

        with file.open_binary() as handle:
            rows = json.loads(handle.read().decode("utf-8"))
        return pa.Table.from_pylist(rows if isinstance(rows, list) else [rows])


class Parquet(FileFormat):
    """Parquet: read in record batches, each already Arrow."""

    suffix = ".parquet"

    def records(self, file: InputFile, batch_rows: int) -> Iterator[RawRecord]:
        number = 1
        for batch in parquet_batches(file, batch_rows):
            if isinstance(batch, RawRecord):
                yield batch
                continue
            yield from batch_records(file.label, batch, number)
            number += batch.num_rows

    def blocks(self, file: InputFile, schema: pa.Schema, batch_rows: int, block_bytes: int) -> Iterator[Block]:
        import pyarrow as pa

        from .narrowing import narrow

        number = 1
        for batch in parquet_batches(file, batch_rows):
            if isinstance(batch, RawRecord):  # the file could not be read further
                yield Block(None, partial(iter, [batch]))
                continue
            table = pa.Table.from_batches([batch])
            yield Block(narrow(table, schema), partial(batch_records, file.label, table, number))
            number += batch.num_rows

    def table(self, file: InputFile, select: Select | None = None) -> pa.Table:
        import pyarrow.parquet as pq

        with _parquet_input(file) as source:
            names = pq.read_schema(source).names
            return pq.read_table(source, columns=select(names) if select is not None else None)

    def estimate_rows(self, file: InputFile) -> int | None:
        import pyarrow.parquet as pq

        try:
            with _parquet_input(file) as source:
                return pq.ParquetFile(source).metadata.num_rows
        except Exception:  # a damaged file: the reader reports it with its name
            return None


def _parquet_input(file: InputFile) -> AbstractContextManager[Path | BinaryIO]:
    """What pyarrow reads a Parquet file from: a local file's path (Arrow opens it itself), else a seekable handle."""
    return nullcontext(file.local) if file.local is not None else file.open_seekable()


def parquet_batches(file: InputFile, batch_rows: int) -> Iterator[pa.RecordBatch | RawRecord]:
    """The file's record batches, then an error record if it cannot be read to the end."""
    import pyarrow.parquet as pq

    label = file.label
    handle = None
    try:
        if file.local is None:
            handle = file.open_seekable()
        parquet = pq.ParquetFile(file.local if handle is None else handle)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        yield RawRecord(label, None, error=f"not a readable Parquet file: {exc}")
        return
    number = 0
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows):
            yield batch
            number += batch.num_rows
    except OSError as exc:  # a damaged page (pyarrow's errors are OSErrors)
        yield RawRecord(label, f"row {number + 1}", error=f"not a readable Parquet file: {exc}")
    finally:
        if handle is not None:
            handle.close()


register(JsonLines())
register(Json())
register(Parquet())
