"""Resolve ``--input`` values (files, globs, folders, Hub ids) and read raw records with their location.

Every record carries the file and the line (JSON Lines) or row (JSON arrays, Parquet, Hub) it came from, so
any later problem can be reported precisely. Parsing problems are records too (``error`` set), so the
caller decides between stopping and setting the row aside.
"""

from __future__ import annotations

import glob
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".parquet")
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+(?::[\w.-]+)?$")


@dataclass(frozen=True)
class LocalFile:
    """A local input file."""

    path: Path

    @property
    def label(self) -> str:
        return str(self.path)

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path), "bytes": self.path.stat().st_size, "sha256": file_sha256(self.path)}


@dataclass(frozen=True)
class HubDataset:
    """A dataset on the Hugging Face Hub, read with ``datasets.load_dataset(repo_id, split=...)``."""

    repo_id: str
    split: str = "train"

    @property
    def label(self) -> str:
        return f"hub:{self.repo_id}"

    def describe(self) -> dict[str, Any]:
        from huggingface_hub import HfApi

        try:
            revision = HfApi().dataset_info(self.repo_id).sha
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
            files = sorted(p for p in path.rglob("*") if p.is_file() and _is_data_file(p))
            if not files:
                raise InputError(f"folder has no {', '.join(SUPPORTED_SUFFIXES)} files", file=spec)
            refs.extend(LocalFile(p) for p in files)
        elif glob.has_magic(spec):
            matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
            if not matches:
                raise InputError("no file matches this pattern", file=spec)
            refs.extend(LocalFile(_supported(p)) for p in matches)
        elif _HUB_ID.match(spec) and not spec.startswith((".", "/")):
            repo_id, _, split = spec.partition(":")
            refs.append(HubDataset(repo_id, split or "train"))
        else:
            raise InputError("no such file or folder", file=spec)
    return refs


def _is_data_file(path: Path) -> bool:
    return path.suffix in SUPPORTED_SUFFIXES and not any(part.startswith(".") for part in path.parts)


def _supported(path: Path) -> Path:
    if path.suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"unsupported file type '{path.suffix}'; expected one of {', '.join(SUPPORTED_SUFFIXES)}",
            file=str(path),
        )
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
        if not isinstance(ref, LocalFile) or ref.path.suffix == ".json":
            return None
        if ref.path.suffix == ".parquet":
            try:
                total += pq.ParquetFile(ref.path).metadata.num_rows
            except Exception:  # a damaged file: the reader reports it with its name
                return None
        else:
            with ref.path.open("rb") as handle:
                total += sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))
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
    elif ref.path.suffix == ".jsonl":
        yield from _read_jsonl(ref.path)
    elif ref.path.suffix == ".json":
        yield from _read_json(ref.path)
    else:
        yield from _read_parquet(ref.path, parquet_batch_rows)


def _read_jsonl(path: Path) -> Iterator[RawRecord]:
    label = str(path)
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            where = f"line {number}"
            try:
                text = line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield RawRecord(label, where, error=f"invalid UTF-8 at byte {exc.start}", raw=repr(line))
                continue
            if not text.strip():
                continue
            try:
                yield RawRecord(label, where, value=json.loads(text), raw=text.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                yield RawRecord(
                    label,
                    where,
                    error=f"invalid JSON: {exc.msg} at column {exc.colno}",
                    raw=text.rstrip("\r\n"),
                )


def _read_json(path: Path) -> Iterator[RawRecord]:
    """A JSON array of rows (or one object); a file of JSON Lines named .json is read as such."""
    label = str(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield RawRecord(label, None, error=f"invalid UTF-8 at byte {exc.start}")
        return
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            yield from _read_jsonl(path)
        else:
            yield RawRecord(label, f"line {exc.lineno}", error=f"invalid JSON: {exc.msg} at column {exc.colno}")
        return
    rows = document if isinstance(document, list) else [document]
    for number, value in enumerate(rows, start=1):
        yield RawRecord(label, f"row {number}", value=value)


def _read_parquet(path: Path, batch_rows: int) -> Iterator[RawRecord]:
    import pyarrow.parquet as pq

    label = str(path)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        yield RawRecord(label, None, error=f"not a readable Parquet file: {exc}")
        return
    number = 0
    for batch in parquet.iter_batches(batch_size=batch_rows):
        for value in batch.to_pylist():
            number += 1
            yield RawRecord(label, f"row {number}", value=value)


def _read_hub(ref: HubDataset) -> Iterator[RawRecord]:
    import datasets

    try:
        rows = datasets.load_dataset(ref.repo_id, split=ref.split, streaming=True)
        for number, value in enumerate(rows, start=1):
            yield RawRecord(ref.label, f"row {number}", value=value)
    except (FileNotFoundError, ConnectionError, ValueError, OSError) as exc:
        raise InputError(f"could not load this Hub dataset: {exc}", file=ref.label) from exc


def reject_line(record: RawRecord, field: str | None, reason: str) -> str:
    """One JSON line for rejects.jsonl: where the row came from, why it was set aside, and the row itself."""
    raw = record.raw if record.raw is not None else json.dumps(record.value, ensure_ascii=False, default=str)
    entry = {"file": record.file, "location": record.location, "field": field, "reason": reason, "raw": raw}
    return json.dumps(entry, ensure_ascii=False)
