"""Resolve ``--input`` values (files, globs, folders, Hub ids) and read raw records with their location.

Every record carries the file and the line (JSON Lines) or row (JSON arrays, Parquet, Hub) it came from, so
any later problem can be reported precisely. Parsing problems are records too (``error`` set), so the
caller decides between stopping and setting the row aside. JSON and JSON Lines files may be compressed
(``.gz``, ``.bz2``, ``.xz``, ``.zst``); they are decompressed as they are read.
"""

from __future__ import annotations

import codecs
import errno
import glob
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from .compressed import COMPRESSIONS, READ_ERRORS, compression_of, data_suffix, open_binary
from .hub_ids import hub_unreachable, looks_like_hub_id, offline_failure

if TYPE_CHECKING:
    import pyarrow as pa

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".parquet")
COMPRESSIBLE_SUFFIXES = (".jsonl", ".json")
SUPPORTED_TYPES = ", ".join(SUPPORTED_SUFFIXES) + f" (JSON also compressed: {', '.join(COMPRESSIONS)})"
# What distill-data writes or keeps beside an output: never read as input when found inside a folder input.
PROVENANCE = "provenance.json"
FEEDBACK_CACHE = "requests.sqlite"


def display_path(path: Path) -> str:
    """``path`` as text that can be printed and written as UTF-8: bytes of a file name that are not UTF-8
    (which Python keeps as lone surrogates) are shown as ``\\xff``."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class LocalFile:
    """A local input file."""

    path: Path

    @property
    def label(self) -> str:
        return display_path(self.path)

    def describe(self) -> dict[str, Any]:
        return {"path": self.label, "bytes": self.path.stat().st_size, "sha256": file_sha256(self.path)}


@dataclass(frozen=True)
class HubDataset:
    """A dataset on the Hugging Face Hub, read with ``datasets.load_dataset(repo_id, split=...)``."""

    repo_id: str
    split: str = "train"

    @property
    def label(self) -> str:
        return f"hub:{self.repo_id}"

    def describe(self) -> dict[str, Any]:
        from huggingface_hub import HfApi, constants

        try:
            revision = HfApi().dataset_info(self.repo_id, timeout=constants.HF_HUB_ETAG_TIMEOUT).sha
        except Exception:  # the data was read; a missing revision should not fail the run
            revision = None
        return {"hub": self.repo_id, "split": self.split, "revision": revision}


InputRef = LocalFile | HubDataset


@dataclass
class RawRecord:
    """One raw row, or the reason it could not be parsed."""

    file: str
    location: str | None
    value: Any = None
    error: str | None = None
    raw: str | None = None


def resolve_inputs(specs: list[str] | tuple[str, ...]) -> list[InputRef]:
    """Expand each spec in order: a file, a folder (its supported files, sorted), a glob, or a Hub id."""
    if not specs:
        raise InputError("no input given (use --input PATH, a glob, a folder or a Hub dataset id)")
    refs: list[InputRef] = []
    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_file():
            refs.append(LocalFile(_supported(path)))
        elif path.is_dir():
            refs.extend(LocalFile(p) for p in _folder_files(path, spec))
        elif glob.has_magic(spec):
            matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
            if not matches:
                raise InputError("no file matches this pattern", file=spec)
            refs.extend(LocalFile(_supported(p)) for p in matches)
        elif looks_like_hub_id(spec):
            repo_id, _, split = spec.partition(":")
            refs.append(HubDataset(repo_id, split or "train"))
        else:
            raise InputError(missing_path(path), file=spec)
    return refs


def missing_path(path: Path) -> str:
    """Why a path that is neither a file nor a folder cannot be read: usually it does not exist."""
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop (a symbolic link that leads back to itself)"
    return "no such file or folder"


def _folder_files(folder: Path, spec: str) -> list[Path]:
    """The supported files under ``folder``, sorted. In an output of this toolkit only its ``data/`` is read (not
    its provenance.json, assets/ or rejects.jsonl); outputs, staging folders and request caches of this toolkit
    inside the folder are skipped, so a run writing into its input folder never reads its own output back."""
    is_output = (folder / PROVENANCE).is_file()
    root = folder / "data" if is_output else folder
    files: list[Path] = []
    outputs: list[str] = []
    for parent, subfolders, names in os.walk(root):
        here = Path(parent)
        kept = []
        for name in sorted(subfolders):
            if (here / name / PROVENANCE).is_file():
                outputs.append(display_path((here / name).relative_to(folder)))
            elif not (name.startswith(".") or (name.endswith(".cache") and (here / name / FEEDBACK_CACHE).is_file())):
                kept.append(name)  # hidden folders include the staging folders of runs (.OUT.tmp-*, .OUT.partial)
        subfolders[:] = kept
        files.extend(here / name for name in names if _is_data_file((here / name).relative_to(root)))
    files = sorted(f for f in files if f.is_file())
    if not files:
        reason = f"folder has no {SUPPORTED_TYPES} files"
        if is_output:
            reason = f"an output of distill-data with no {SUPPORTED_TYPES} files in its data/ folder"
        elif outputs:
            reason += f" (outputs of distill-data inside it are not read: {', '.join(outputs[:3])}; name their data/)"
        raise InputError(reason, file=spec)
    return files


def _is_data_file(relative: Path) -> bool:
    """A supported file, not hidden inside the folder (the folder itself may be under a hidden one)."""
    return _is_supported(relative) and not any(part.startswith(".") for part in relative.parts)


def _is_supported(path: Path) -> bool:
    if compression_of(path) is None:
        return path.suffix in SUPPORTED_SUFFIXES
    return data_suffix(path) in COMPRESSIBLE_SUFFIXES


def _supported(path: Path) -> Path:
    if not _is_supported(path):
        file_type = data_suffix(path) + path.suffix if compression_of(path) else path.suffix
        message = f"unsupported file type '{file_type}'; expected {SUPPORTED_TYPES}"
        raise InputError(message, file=display_path(path))
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def estimate_rows(refs: list[InputRef]) -> int | None:
    """Rows to expect, for the progress bar: cheap to count for JSON Lines and Parquet, else unknown."""
    import pyarrow.parquet as pq

    total = 0
    for ref in refs:
        if not isinstance(ref, LocalFile) or data_suffix(ref.path) == ".json":
            return None
        if ref.path.suffix == ".parquet":
            try:
                total += pq.ParquetFile(ref.path).metadata.num_rows
            except Exception:  # a damaged file: the reader reports it with its name
                return None
        else:
            try:
                with open_binary(ref.path) as handle:
                    total += sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))
            except READ_ERRORS:  # a damaged file: the reader reports it with its name and line
                return None
    return total


def read_records(ref: InputRef, parquet_batch_rows: int = 10_000) -> Iterator[RawRecord]:
    """Every raw row of one input, in order; an empty input yields one error record."""
    empty = True
    for record in _read(ref, parquet_batch_rows):
        empty = False
        yield record
    if empty:
        yield RawRecord(ref.label, None, error="empty input: no rows")


def _read(ref: InputRef, parquet_batch_rows: int) -> Iterator[RawRecord]:
    if isinstance(ref, HubDataset):
        yield from _read_hub(ref)
    elif data_suffix(ref.path) == ".jsonl":
        yield from jsonl_records(ref.path)
    elif data_suffix(ref.path) == ".json":
        yield from _read_json(ref.path)
    else:
        yield from _read_parquet(ref.path, parquet_batch_rows)


def jsonl_records(
    path: Path, lines: Iterable[tuple[int, bytes]] | None = None, skip_lines: int = 0
) -> Iterator[RawRecord]:
    """The records of a JSON Lines file: of all its lines, of the numbered ``lines`` given (read already), or
    of those after the first ``skip_lines``."""
    label = display_path(path)
    if lines is not None:
        for number, line in lines:
            yield from _line_record(label, number, line)
        return
    number = 0
    try:
        with open_binary(path) as handle:
            for number, line in enumerate(handle, start=1):
                if number > skip_lines:
                    yield from _line_record(label, number, line)
    except READ_ERRORS as exc:
        yield RawRecord(label, f"line {number + 1}", error=_read_error(path, exc))


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


def _read_error(path: Path, exc: BaseException) -> str:
    compression = compression_of(path)
    what = f"not readable as {compression}" if compression else "could not be read"
    return f"{what}: {exc}"


def _read_json(path: Path) -> Iterator[RawRecord]:
    """A JSON array of rows (or one object); a file of JSON Lines named .json is read as such."""
    label = display_path(path)
    try:
        with open_binary(path) as handle:
            data = handle.read()
    except READ_ERRORS as exc:
        yield RawRecord(label, None, error=_read_error(path, exc))
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
            yield from jsonl_records(path)
        else:
            yield RawRecord(label, f"line {exc.lineno}", error=_json_error(exc))
        return
    except _JSONLimit as exc:
        yield RawRecord(label, None, error=str(exc))
        return
    rows = document if isinstance(document, list) else [document]
    for number, value in enumerate(rows, start=1):
        yield RawRecord(label, f"row {number}", value=value)


def _read_parquet(path: Path, batch_rows: int) -> Iterator[RawRecord]:
    number = 1
    for batch in parquet_batches(path, batch_rows):
        if isinstance(batch, RawRecord):
            yield batch
            continue
        yield from batch_records(display_path(path), batch, number)
        number += batch.num_rows


def parquet_batches(path: Path, batch_rows: int) -> Iterator[pa.RecordBatch | RawRecord]:
    """The file's record batches, then an error record if it cannot be read to the end."""
    import pyarrow.parquet as pq

    label = display_path(path)
    try:
        parquet = pq.ParquetFile(path)
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


def _read_hub(ref: HubDataset) -> Iterator[RawRecord]:
    try:
        for number, value in enumerate(_hub_rows(ref), start=1):
            yield RawRecord(ref.label, f"row {number}", value=value)
    except _HUB_ERRORS as exc:
        raise InputError(offline_failure(exc) or f"could not load this Hub dataset: {exc}", file=ref.label) from exc


def hub_tables(ref: HubDataset, batch_rows: int) -> Iterator[pa.Table]:
    """The Hub dataset's rows as Arrow tables of ``batch_rows`` rows (the columns as `datasets` typed them)."""
    try:
        yield from _hub_rows(ref).with_format("arrow").iter(batch_size=batch_rows)
    except _HUB_ERRORS as exc:
        raise InputError(offline_failure(exc) or f"could not load this Hub dataset: {exc}", file=ref.label) from exc


def _hub_rows(ref: HubDataset) -> Any:
    """The dataset streamed by `datasets`, once one quick request has shown that the Hub answers (its own retries
    take half a minute to give up on a dead network)."""
    import datasets

    unreachable = hub_unreachable(ref.repo_id)
    if unreachable is not None:
        raise InputError(unreachable, file=ref.label)
    return datasets.load_dataset(ref.repo_id, split=ref.split, streaming=True)


_HUB_ERRORS = (FileNotFoundError, ConnectionError, ValueError, OSError)


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
