"""Helpers for the chat-native ``messages`` column: list<struct<content: string, role: string>>.

Processors rewrite turn texts through :func:`map_contents`, which works on the flat array of all turns of a
batch and rebuilds the lists with the same offsets, so no per-dialogue Python objects are created.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MESSAGE_TYPE = pa.struct([("content", pa.string()), ("role", pa.string())])
MESSAGES_TYPE = pa.list_(MESSAGE_TYPE)


def as_list_array(column: pa.ChunkedArray | pa.Array) -> pa.ListArray:
    """One contiguous ListArray for a messages column."""
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def turn_positions(lists: pa.ListArray) -> tuple[np.ndarray, np.ndarray]:
    """For each flattened turn: the index of its dialogue and its position inside the dialogue."""
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    offsets = lists.offsets.to_numpy()
    positions = np.arange(len(parents)) - (offsets[parents] - offsets[0])
    return parents, positions


def map_contents(
    column: pa.ChunkedArray | pa.Array, rewrite: Callable[[pa.Array], pa.Array]
) -> tuple[pa.ListArray, pa.Array]:
    """Apply ``rewrite`` to the flat array of turn contents; return the rebuilt column and a changed mask.

    The mask has one boolean per turn, true where the content changed.
    """
    lists = as_list_array(column)
    flat = lists.flatten()
    contents = flat.field("content")
    new_contents = rewrite(contents)
    changed = pc.fill_null(pc.not_equal(contents, new_contents), False)
    if not pc.any(changed).as_py():
        return lists, changed
    struct = pa.StructArray.from_arrays([new_contents, flat.field("role")], fields=list(MESSAGE_TYPE))
    offsets = pc.subtract(lists.offsets, lists.offsets[0])
    rebuilt = pa.ListArray.from_arrays(offsets, struct, type=MESSAGES_TYPE, mask=lists.is_null())
    return rebuilt, changed


def first_turn_with_role(column: pa.ChunkedArray | pa.Array, role: str) -> pa.Array:
    """The content of each dialogue's first turn with ``role`` (null when there is none)."""
    lists = as_list_array(column)
    flat = lists.flatten()
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    matching = np.flatnonzero(pc.equal(flat.field("role"), role).to_numpy(zero_copy_only=False))
    dialogues, first = np.unique(parents[matching], return_index=True)
    positions = np.full(len(lists), -1, dtype=np.int64)
    positions[dialogues] = matching[first]
    if not len(flat):
        return pa.nulls(len(lists), pa.string())
    found = positions >= 0
    taken = flat.field("content").take(pa.array(np.where(found, positions, 0)))
    return pc.if_else(pa.array(found), taken, pa.nulls(len(lists), pa.string()))


def truncate_after_last_user(column: pa.ChunkedArray | pa.Array) -> pa.ListArray:
    """Each dialogue cut after its last user turn (the generation prompt of the ``*_gen`` splits)."""
    lists = as_list_array(column)
    flat = lists.flatten()
    parents, positions = turn_positions(lists)
    is_user = pc.equal(flat.field("role"), "user").to_numpy(zero_copy_only=False)
    last_user = np.full(len(lists), -1, dtype=np.int64)
    np.maximum.at(last_user, parents[is_user], positions[is_user])
    keep = positions <= last_user[parents]
    lengths = np.bincount(parents[keep], minlength=len(lists)) if len(parents) else np.zeros(len(lists), int)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.ListArray.from_arrays(
        pa.array(offsets), flat.filter(pa.array(keep)), type=MESSAGES_TYPE, mask=lists.is_null()
    )
