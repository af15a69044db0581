"""Raw UltraChat rows ``{"id": str, "data": [user, assistant, ...]}`` to Arrow batches of ``messages``.

Rows are converted whole tables at a time where Arrow parsed them (:func:`convert_table`), and one by one
(:func:`convert_row`) wherever some row might not convert, so that its problem names its line and field.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ..messages import MESSAGE_TYPE, MESSAGES_TYPE, turn_positions
from .columnar import ColumnarReader
from .rows import FieldProblem, RowSource, check_text, kind_of

SCHEMA = pa.schema([("id", pa.string()), ("messages", MESSAGES_TYPE)])
ROLES = ("user", "assistant")


def convert_row(value: Any) -> dict[str, Any]:
    """One raw row to ``{"id", "messages"}``; roles alternate by position, user first.

    ``id`` is a string, as in UltraChat, or absent (null): a number (``7``, ``7.5``, ``NaN``) is refused, one rule
    rather than some numbers converted and others not. ``data`` must be a non-empty list of strings. Empty strings
    pass here: the structure filter counts them.
    """
    if not isinstance(value, dict):
        raise FieldProblem("(row)", f"expected a JSON object, got {kind_of(value)}")
    if "data" not in value:
        raise FieldProblem("data", "missing (a raw UltraChat row has 'id' and 'data')")
    data = value["data"]
    if not isinstance(data, list):
        raise FieldProblem("data", f"expected a list of turns, got {kind_of(data)}")
    if not data:
        raise FieldProblem("data", "empty list: a dialogue needs at least one turn")
    for i, turn in enumerate(data):
        if not isinstance(turn, str):
            raise FieldProblem(f"data[{i}]", f"turn is not a string (got {kind_of(turn)})")
        check_text(turn, f"data[{i}]")
    row_id = value.get("id")
    if row_id is not None:
        if not isinstance(row_id, str):
            raise FieldProblem("id", f'expected a string, got {_value(row_id)} (UltraChat ids are text, such as "7")')
        check_text(row_id, "id")
    return {"id": row_id, "messages": [{"content": turn, "role": ROLES[i % 2]} for i, turn in enumerate(data)]}


def _value(value: Any) -> str:
    """The kind of a wrong ``id``, with a number shown (``int 7``, ``float nan``)."""
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool) and value.bit_length() < 64):
        return f"{kind_of(value)} {value}"
    return kind_of(value)


# The fields convert_row reads, as Arrow's JSON reader is told to parse them (the rest of a raw row is skipped).
PARSE_SCHEMA = pa.schema([("id", pa.string()), ("data", pa.list_(pa.string()))])
_ROLES = pa.array(ROLES)


def convert_table(parsed: pa.Table) -> pa.Table | None:
    """Rows parsed by Arrow with :data:`PARSE_SCHEMA`, as :func:`convert_row` converts them one by one; or None
    when some row might not convert (``data`` missing, null or empty, a null turn): :func:`convert_row` then
    reads them, to name the row and field.

    A non-string ``id`` or turn never gets here (Arrow refuses the block, :func:`.columnar.narrow` the table), nor
    does a lone surrogate (Arrow refuses the escape, and Arrow strings are valid UTF-8, which cannot encode one).
    """
    import numpy as np

    lists = parsed.column("data").combine_chunks()
    turns = lists.flatten()
    offsets = lists.offsets.to_numpy()
    if lists.null_count or turns.null_count or (np.diff(offsets) == 0).any():
        return None
    _, positions = turn_positions(lists)
    roles = _ROLES.take(pa.array(positions % 2))
    contents = {"content": turns, "role": roles}
    items = pa.StructArray.from_arrays([contents[field.name] for field in MESSAGE_TYPE], fields=list(MESSAGE_TYPE))
    messages = pa.ListArray.from_arrays(pa.array(offsets - offsets[0], pa.int32()), items, type=MESSAGES_TYPE)
    return pa.Table.from_arrays([parsed.column("id"), messages], schema=SCHEMA)


class UltraChatSource(RowSource):
    """Raw UltraChat dialogues from files, globs, folders or Hub ids, as batches of ``id`` and ``messages``."""

    def __init__(self, inputs: list[str], on_error: str = "fail", batch_size: int = 10_000) -> None:
        super().__init__(list(inputs), convert_row, SCHEMA, on_error=on_error, batch_size=batch_size)
        self.columnar = ColumnarReader(PARSE_SCHEMA, convert_table)
