"""Small builders shared by the processor tests."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from distill_data.messages import MESSAGES_TYPE

Turn = str | tuple[str, str]


def _turns(conv: Sequence[Turn]) -> list[dict[str, str]]:
    turns = []
    for i, turn in enumerate(conv):
        if isinstance(turn, tuple):
            role, content = turn
        else:
            role, content = ("user" if i % 2 == 0 else "assistant"), turn
        turns.append({"content": content, "role": role})
    return turns


def dialogues(*convs: Sequence[Turn], ids: Sequence[str] | None = None) -> pa.Table:
    """A table with a ``messages`` column (and ``id`` when given), one row per conversation.

    A conversation is a list of turn strings (roles alternate user, assistant, starting with user) or of
    ``(role, content)`` tuples.
    """
    columns: dict[str, pa.Array] = {}
    if ids is not None:
        if len(ids) != len(convs):
            raise ValueError("one id per conversation")
        columns["id"] = pa.array(list(ids), pa.string())
    columns["messages"] = pa.array([_turns(c) for c in convs], MESSAGES_TYPE)
    return pa.table(columns)


def contents(table: pa.Table) -> list[list[str]]:
    """The turn texts of each row of ``table``'s ``messages`` column."""
    return [[turn["content"] for turn in row] for row in table.column("messages").to_pylist()]


def roles(table: pa.Table) -> list[list[str]]:
    """The turn roles of each row of ``table``'s ``messages`` column."""
    return [[turn["role"] for turn in row] for row in table.column("messages").to_pylist()]
