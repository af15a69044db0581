"""Raw UltraChat rows ``{"id": str, "data": [user, assistant, ...]}`` to Arrow batches of ``messages``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import pyarrow as pa

from ..errors import InputError
from ..messages import MESSAGES_TYPE
from .inputs import InputRef, RawRecord, estimate_rows, read_records, reject_line, resolve_inputs

COLUMNS = ("id", "messages")
SCHEMA = pa.schema([("id", pa.string()), ("messages", MESSAGES_TYPE)])
ROLES = ("user", "assistant")


class FieldProblem(Exception):
    """A row that does not fit the raw UltraChat schema, with the offending field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def convert_row(value: Any) -> tuple[str | None, list[dict[str, str]]]:
    """One raw row to ``(id, messages)``; roles alternate by position, user first.

    ``id`` may be a string or an integer (kept as its decimal string) or absent; ``data`` must be a
    non-empty list of strings. Empty strings pass here: the structure filter counts them.
    """
    if not isinstance(value, dict):
        raise FieldProblem("(row)", f"expected a JSON object, got {_kind(value)}")
    if "data" not in value:
        raise FieldProblem("data", "missing (a raw UltraChat row has 'id' and 'data')")
    data = value["data"]
    if not isinstance(data, list):
        raise FieldProblem("data", f"expected a list of turns, got {_kind(data)}")
    if not data:
        raise FieldProblem("data", "empty list: a dialogue needs at least one turn")
    for i, turn in enumerate(data):
        if not isinstance(turn, str):
            raise FieldProblem(f"data[{i}]", f"turn is not a string (got {_kind(turn)})")
    row_id = value.get("id")
    if row_id is not None and not isinstance(row_id, str):
        if isinstance(row_id, int) and not isinstance(row_id, bool):
            row_id = str(row_id)
        else:
            raise FieldProblem("id", f"expected a string, got {_kind(row_id)}")
    return row_id, [{"content": turn, "role": ROLES[i % 2]} for i, turn in enumerate(data)]


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


@dataclass
class UltraChatSource:
    """Raw UltraChat dialogues from files, globs, folders or Hub ids, as Arrow batches of ``id``, ``messages``.

    With ``on_error="fail"`` the first bad row raises :class:`InputError`; with ``"skip"`` it is written
    to ``rejects`` (one JSON line with file, location, field and reason) and counted.
    """

    inputs: list[str]
    on_error: str = "fail"
    batch_size: int = 10_000
    rejects: TextIO | None = None
    rejected: int = field(default=0, init=False)
    rows_read: int = field(default=0, init=False)
    columns: tuple[str, ...] = field(default=COLUMNS, init=False)

    def __post_init__(self) -> None:
        if self.on_error not in ("fail", "skip"):
            raise ValueError(f"on_error must be 'fail' or 'skip', got {self.on_error!r}")
        self.refs: list[InputRef] = resolve_inputs(self.inputs)

    def estimate_rows(self) -> int | None:
        return estimate_rows(self.refs)

    def describe(self) -> list[dict[str, Any]]:
        """Each input with its checksum (files) or revision (Hub), for provenance."""
        return [ref.describe() for ref in self.refs]

    def batches(self) -> Iterator[pa.Table]:
        ids: list[str | None] = []
        messages: list[list[dict[str, str]]] = []
        for ref in self.refs:
            for record in read_records(ref):
                converted = self._convert(record)
                if converted is None:
                    continue
                ids.append(converted[0])
                messages.append(converted[1])
                if len(ids) >= self.batch_size:
                    yield pa.table([pa.array(ids, pa.string()), pa.array(messages, MESSAGES_TYPE)], schema=SCHEMA)
                    ids, messages = [], []
        if ids:
            yield pa.table([pa.array(ids, pa.string()), pa.array(messages, MESSAGES_TYPE)], schema=SCHEMA)

    def _convert(self, record: RawRecord) -> tuple[str | None, list[dict[str, str]]] | None:
        if record.error is not None:
            return self._bad(record, None, record.error)
        try:
            converted = convert_row(record.value)
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
