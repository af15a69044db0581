"""Raw records: one row of an input file with its location (file and line or row), or why it could not be read.

Parsing problems are records too (``error`` set), so the caller decides between stopping and setting the row
aside. The functions here turn bytes (JSON Lines, a JSON document) and Arrow batches into records; which of them
reads a file is the file format's choice (:mod:`.formats`).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .compressed import READ_ERRORS, compression_of

if TYPE_CHECKING:
    import pyarrow as pa

    from .files import InputFile


@dataclass
class RawRecord:
    """One raw row, or the reason it could not be parsed."""

    file: str
    location: str | None
    value: Any = None
    error: str | None = None
    raw: str | None = None


def jsonl_records(
    file: InputFile, lines: Iterable[tuple[int, bytes]] | None = None, skip_lines: int = 0
) -> Iterator[RawRecord]:
    """The records of a JSON Lines file: of all its lines, of the numbered ``lines`` given (read already), or
    of those after the first ``skip_lines``."""
    label = file.label
    if lines is not None:
        for number, line in lines:
            yield from _line_record(label, number, line)
        return
    number = 0
    try:
        with file.open_binary() as handle:
            for number, line in enumerate(handle, start=1):
                if number > skip_lines:
                    yield from _line_record(label, number, line)
    except READ_ERRORS as exc:
        yield RawRecord(label, f"line {number + 1}", error=read_error(file, exc))


def _line_record(label: str, number: int, line: bytes) -> Iterator[RawRecord]:
    """The record of one line; none for a blank one."""
    where = f"line {number}"
    try:
        text = line.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        yield RawRecord(label, where, error=f"invalid UTF-8 at byte {exc.start}", raw=repr(line))
        return
    if not text.strip():
        return
    raw = text.rstrip("\r\n")
    try:
        yield RawRecord(label, where, value=_loads(text), raw=raw)
    except json.JSONDecodeError as exc:
        yield RawRecord(label, where, error=_json_error(exc), raw=raw)
    except _JSONLimit as exc:
        yield RawRecord(label, where, error=str(exc), raw=raw)


def _json_error(exc: json.JSONDecodeError) -> str:
    """``invalid JSON: REASON at column N``; some of json's reasons already end in "at" ("Unterminated string
    starting at", "Invalid control character at")."""
    return f"invalid JSON: {exc.msg.removesuffix(' at')} at column {exc.colno}"


class _JSONLimit(ValueError):
    """Valid JSON that Python will not parse: nested too deeply, or an integer of thousands of digits."""


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise _JSONLimit("invalid JSON: nested too deeply") from None
    except ValueError as exc:  # "Exceeds the limit (4300 digits) for integer string conversion; use sys..."
        raise _JSONLimit(f"invalid JSON: {str(exc).split(';')[0]}") from None


def read_error(file: InputFile, exc: BaseException) -> str:
    compression = compression_of(file.path)
    what = f"not readable as {compression}" if compression else "could not be read"
    return f"{what}: {exc}"


def json_records(file: InputFile) -> Iterator[RawRecord]:
    """A JSON array of rows (or one object); a file of JSON Lines named .json is read as such."""
    label = file.label
    try:
        with file.open_binary() as handle:
            data = handle.read()
    except READ_ERRORS as exc:
        yield RawRecord(label, None, error=read_error(file, exc))
        return
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        yield RawRecord(label, f"line {line}", error=f"invalid UTF-8 at byte {exc.start}")
        return
    try:
        document = _loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            yield from jsonl_records(file)
        else:
            yield RawRecord(label, f"line {exc.lineno}", error=_json_error(exc))
        return
    except _JSONLimit as exc:
        yield RawRecord(label, None, error=str(exc))
        return
    rows = document if isinstance(document, list) else [document]
    for number, value in enumerate(rows, start=1):
        yield RawRecord(label, f"row {number}", value=value)


def batch_records(label: str, batch: pa.RecordBatch | pa.Table, first: int) -> Iterator[RawRecord]:
    """Each row of an Arrow batch as a record, numbered from ``first``; a string in it that is not UTF-8 is an
    error record naming the row."""
    try:
        values = batch.to_pylist()
    except UnicodeDecodeError:  # somewhere in the batch: row by row, to name it
        values = None
    for index in range(batch.num_rows):
        number = first + index
        try:
            value = batch.slice(index, 1).to_pylist()[0] if values is None else values[index]
        except UnicodeDecodeError as exc:
            yield RawRecord(label, f"row {number}", error=f"text that is not UTF-8: {exc}")
            continue
        yield RawRecord(label, f"row {number}", value=value)


def reject_line(record: RawRecord, field: str | None, reason: str) -> str:
    """One JSON line for rejects.jsonl: where the row came from, why it was set aside, and the row itself."""
    raw = record.raw if record.raw is not None else json.dumps(record.value, ensure_ascii=False, default=str)
    entry = {"file": record.file, "location": record.location, "field": field, "reason": reason, "raw": raw}
    line = json.dumps(entry, ensure_ascii=False)
    if lone_surrogate(line) is not None:
        return json.dumps(entry)  # a lone surrogate cannot be written as UTF-8; escaped, it stays in the line
    # Escaped too: the characters other than "\n" that str.splitlines() breaks lines at and JSON leaves raw.
    return line.replace("\x85", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def lone_surrogate(text: str) -> int | None:
    """Where the first lone surrogate in ``text`` is (from a JSON ``\\ud800`` escape, say), or None.

    Only a lone surrogate makes UTF-8 encoding fail, and encoding is several times faster than a search.
    """
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None
