"""JSON Lines read a block of whole lines at a time, so that a source can parse a block with Arrow's C++ reader.

Parsing row by row with ``json.loads`` caps a source near 5,000 UltraFeedback rows/s per core. Arrow parses a
block on all cores, but it reads some lines differently from ``json.loads`` (two objects on one line, a number
too long for Python, nesting too deep for it, bytes that are not UTF-8 in a field it skips). So a block goes to
Arrow only when :func:`arrow_safe` finds none of these; any other block, and any block Arrow refuses, is read
row by row, where every problem names its line and field. Either way the rows are the same.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from .compressed import READ_ERRORS, open_binary

if TYPE_CHECKING:
    from .files import InputFile

BLOCK_BYTES = 8 << 20
ARROW_BLOCK_BYTES = 1 << 20
# json.loads refuses integers of more than 4,300 digits (sys.int_info.default_max_str_digits).
_MAX_DIGITS = 4300
# json.loads refuses nesting deeper than Python's recursion limit (1,000, less the caller's frames); a line with
# this many opening brackets might be that deep, so it is left to json.loads to decide.
_MAX_OPENINGS = 500


@dataclass(frozen=True)
class LineBlock:
    """Whole lines of a JSON Lines file, the first of them numbered ``first_line`` (from 1)."""

    data: bytes
    first_line: int

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """Each line with its number, split as iterating the file splits them."""
        return enumerate(io.BytesIO(self.data), start=self.first_line)


@dataclass(frozen=True)
class ReadFailure:
    """The file could not be read past this block (damaged or truncated): the row-by-row reader reports it."""

    after_line: int


def line_blocks(file: Path | InputFile, block_bytes: int = BLOCK_BYTES) -> Iterator[LineBlock | ReadFailure]:
    """The (decompressed) file in blocks of whole lines of about ``block_bytes``; the last line may lack ``\\n``."""
    line = 1
    pending = b""
    try:
        with open_binary(file) if isinstance(file, Path) else file.open_binary() as handle:
            while chunk := handle.read(block_bytes):
                data = pending + chunk
                end = data.rfind(b"\n") + 1
                if end == 0:
                    pending = data
                    continue
                pending = data[end:]
                yield LineBlock(data[:end], line)
                line += data.count(b"\n", 0, end)
    except READ_ERRORS:
        yield ReadFailure(after_line=line - 1)
        return
    if pending:
        yield LineBlock(pending, line)


def arrow_safe(block: LineBlock) -> bool:
    """Whether Arrow reads every line of ``block`` as ``json.loads`` would, once it accepts the block at all.

    Each line must start with ``{`` (no blank lines, no leading spaces; the caller checks that Arrow finds one
    row per line, which rules out two objects on a line), be UTF-8 throughout, hold no run of 4,300 digits or
    more and no more than a few hundred opening brackets.
    """
    return _safe_lines(_content(block)) is not None


def _content(block: LineBlock) -> bytes:
    """The block's bytes as Arrow is given them: without the byte order mark that may open a file."""
    return block.data.removeprefix(codecs.BOM_UTF8) if block.first_line == 1 else block.data


def _safe_lines(data: bytes) -> int | None:
    """The number of lines in ``data`` if :func:`arrow_safe` would take them, else None."""
    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(raw == ord("\n"))
    line_starts = np.concatenate(([0], newlines[newlines < len(raw) - 1] + 1))
    if not data or not np.all(raw[line_starts] == ord("{")):
        return None
    if not _is_utf8(data) or _digit_run_reaches(raw, _MAX_DIGITS):
        return None
    if _most_openings_on_a_line(raw, line_starts) >= _MAX_OPENINGS:
        return None
    return len(line_starts)


def _is_utf8(data: bytes) -> bool:
    """Whether ``data`` decodes as UTF-8 (strictly, as ``bytes.decode`` has it: no surrogates, no overlong forms).
    Arrow's validator checks the same rules as Python's decoder, several times faster on text that is not ASCII."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def arrow_rows(block: LineBlock, schema: pa.Schema) -> pa.Table | None:
    """The block's rows as read by Arrow, with the fields of ``schema`` (others skipped), or None where the
    row-by-row reader must read it: a block :func:`arrow_safe` refuses, a value of another JSON type than the
    schema's (Arrow refuses those, where a cast would hide a wrong row), or one row per line not found."""
    import pyarrow.json as pj

    data = _content(block)
    lines = _safe_lines(data)
    if lines is None:
        return None
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        try:  # Arrow parses pieces of ARROW_BLOCK_BYTES on all cores; a longer line needs one piece
            table = pj.read_json(pa.BufferReader(data), pj.ReadOptions(block_size=ARROW_BLOCK_BYTES), options)
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc):
                raise
            table = pj.read_json(pa.BufferReader(data), pj.ReadOptions(block_size=len(data)), options)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    if table.num_rows != lines:
        return None
    return table.select(schema.names).combine_chunks()


def _digit_run_reaches(raw: np.ndarray, length: int) -> bool:
    """Whether ``length`` digits follow one another somewhere in ``raw``."""
    step = length // 5
    sampled = raw[::step] - ord("0") < 10  # uint8: the bytes below "0" wrap round to 246 and more
    # Such a run covers at least four consecutive sampled bytes; most blocks have no four in a row.
    if not np.any(sampled[:-3] & sampled[1:-2] & sampled[2:-1] & sampled[3:]):
        return False
    digits = np.flatnonzero(raw - ord("0") < 10)
    # The i-th digit and the (i+length-1)-th are length-1 bytes apart only if every byte between is a digit.
    return bool(np.any(digits[length - 1 :] - digits[: len(digits) - length + 1] == length - 1))


def _most_openings_on_a_line(raw: np.ndarray, starts: np.ndarray) -> int:
    """The largest number of ``[`` and ``{`` on one line (lines start at ``starts``), an upper bound on the line's
    nesting depth. Counted from the brackets' positions: far fewer than the bytes, even in nested rows."""
    openings = np.flatnonzero((raw | 0x20) == ord("{"))  # "[" is 0x5b, "{" 0x7b
    if not len(openings):
        return 0
    return int(np.bincount(np.searchsorted(starts, openings, side="right") - 1).max())
