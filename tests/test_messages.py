"""The messages-column helpers: map_contents, first_turn_with_role, truncate_after_last_user."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from helpers import contents, dialogues, roles

from distill_data.messages import (
    MESSAGES_TYPE,
    first_turn_with_role,
    map_contents,
    truncate_after_last_user,
)


def upper(contents_array: pa.Array) -> pa.Array:
    return pc.utf8_upper(contents_array)


def as_table(lists: pa.Array) -> pa.Table:
    return pa.table({"messages": lists})


# --- map_contents --------------------------------------------------------------------------------------


def test_map_contents_rewrites_and_masks():
    table = dialogues(["Hi", "OK"], [("system", "s"), ("user", "u"), ("assistant", "A")])
    lists, changed = map_contents(table.column("messages"), upper)
    assert lists.type == MESSAGES_TYPE
    assert contents(as_table(lists)) == [["HI", "OK"], ["S", "U", "A"]]
    assert roles(as_table(lists)) == roles(table)
    assert changed.to_pylist() == [True, False, True, True, False]


def test_map_contents_unchanged_returns_same_values():
    table = dialogues(["A", "B"], ["C"])
    lists, changed = map_contents(table.column("messages"), upper)
    assert changed.to_pylist() == [False, False, False]
    assert contents(as_table(lists)) == contents(table)


@pytest.mark.parametrize(("start", "length"), [(1, 2), (2, 1), (0, 1), (3, 0), (1, None)])
def test_map_contents_sliced(start, length):
    table = dialogues(["a", "b"], ["c"], ["d", "e", "f"], ["g", "h"])
    sliced = table.column("messages").chunk(0).slice(start, length)
    lists, changed = map_contents(sliced, upper)
    expected = [[s.upper() for s in conv] for conv in contents(as_table(sliced))]
    assert len(lists) == len(sliced)
    assert contents(as_table(lists)) == expected
    assert len(changed) == sum(len(conv) for conv in expected)
    assert all(changed.to_pylist())


def test_map_contents_multiple_chunks():
    table = pa.concat_tables([dialogues(["a", "B"]), dialogues(["c"], ["D", "e"]), dialogues(["f"]).slice(1)])
    column = table.column("messages")
    assert column.num_chunks == 3
    lists, changed = map_contents(column, upper)
    assert contents(as_table(lists)) == [["A", "B"], ["C"], ["D", "E"]]
    assert changed.to_pylist() == [True, False, True, False, True]


def test_map_contents_table_slice_of_multiple_chunks():
    table = pa.concat_tables([dialogues(["a"], ["b"]), dialogues(["c"], ["d"])]).slice(1, 2)
    lists, _ = map_contents(table.column("messages"), upper)
    assert contents(as_table(lists)) == [["B"], ["C"]]


def test_map_contents_empty_lists_and_empty_column():
    table = dialogues([], ["a"], [], ["b", "c"], [])
    lists, changed = map_contents(table.column("messages"), upper)
    assert contents(as_table(lists)) == [[], ["A"], [], ["B", "C"], []]
    assert changed.to_pylist() == [True, True, True]

    empty = pa.array([], MESSAGES_TYPE)
    lists, changed = map_contents(empty, upper)
    assert len(lists) == 0
    assert len(changed) == 0

    only_empty = pa.array([[], []], MESSAGES_TYPE)
    lists, changed = map_contents(only_empty, upper)
    assert lists.to_pylist() == [[], []]


def test_map_contents_keeps_null_dialogues():
    column = pa.array([[{"content": "a", "role": "user"}], None, [{"content": "b", "role": "user"}]], MESSAGES_TYPE)
    lists, _ = map_contents(column, upper)
    assert lists.to_pylist() == [[{"content": "A", "role": "user"}], None, [{"content": "B", "role": "user"}]]


# --- first_turn_with_role ------------------------------------------------------------------------------


def test_first_turn_with_role():
    table = dialogues(
        ["u1", "a1", "u2", "a2"],
        [("system", "s"), ("user", "u"), ("assistant", "a")],
        [("assistant", "only assistant")],
        [],
        [("system", "s1"), ("system", "s2")],
    )
    column = table.column("messages")
    assert first_turn_with_role(column, "user").to_pylist() == ["u1", "u", None, None, None]
    assert first_turn_with_role(column, "assistant").to_pylist() == ["a1", "a", "only assistant", None, None]
    assert first_turn_with_role(column, "system").to_pylist() == [None, "s", None, None, "s1"]
    assert first_turn_with_role(column, "tool").to_pylist() == [None] * 5


def test_first_turn_with_role_sliced_and_chunked():
    table = dialogues(["u0", "a0"], [("assistant", "x"), ("user", "u1")], ["u2"], [("system", "s")])
    assert first_turn_with_role(table.slice(1).column("messages"), "user").to_pylist() == ["u1", "u2", None]
    chunked = pa.concat_tables([table.slice(0, 1), table.slice(1, 1), table.slice(2)])
    assert first_turn_with_role(chunked.column("messages"), "user").to_pylist() == ["u0", "u1", "u2", None]


@pytest.mark.parametrize("column", [pa.array([], MESSAGES_TYPE), pa.array([[], []], MESSAGES_TYPE)])
def test_first_turn_with_role_no_turns(column):
    result = first_turn_with_role(column, "user")
    assert result.type == pa.string()
    assert result.to_pylist() == [None] * len(column)


# --- truncate_after_last_user --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conv", "expected"),
    [
        (["u1", "a1"], ["u1"]),
        (["u1"], ["u1"]),
        (["u1", "a1", "u2"], ["u1", "a1", "u2"]),
        (["u1", "a1", "u2", "a2"], ["u1", "a1", "u2"]),
        (["u1", "a1", "u2", "a2", "u3", "a3"], ["u1", "a1", "u2", "a2", "u3"]),
        ([("system", "s"), ("user", "u"), ("assistant", "a")], ["s", "u"]),
    ],
)
def test_truncate_after_last_user(conv, expected):
    table = dialogues(conv)
    result = truncate_after_last_user(table.column("messages"))
    assert result.type == MESSAGES_TYPE
    assert contents(as_table(result)) == [expected]
    assert roles(as_table(result))[0][-1] == "user"
    # the kept turns are a prefix of the dialogue, roles included
    assert result.to_pylist()[0] == table.column("messages").to_pylist()[0][: len(expected)]


def test_truncate_after_last_user_batch_sliced_and_chunked():
    table = dialogues(["u1", "a1"], ["v1", "b1", "v2", "b2"], ["w1"], ["x1", "c1", "x2"])
    expected = [["u1"], ["v1", "b1", "v2"], ["w1"], ["x1", "c1", "x2"]]
    assert contents(as_table(truncate_after_last_user(table.column("messages")))) == expected
    assert contents(as_table(truncate_after_last_user(table.column("messages").chunk(0).slice(1, 2)))) == expected[1:3]
    chunked = pa.concat_tables([table.slice(0, 2), table.slice(2)])
    assert contents(as_table(truncate_after_last_user(chunked.column("messages")))) == expected


def test_truncate_after_last_user_without_user_turn_and_empty():
    column = pa.array([[{"content": "a", "role": "assistant"}], [], [{"content": "u", "role": "user"}]], MESSAGES_TYPE)
    assert contents(as_table(truncate_after_last_user(column))) == [[], [], ["u"]]
    assert truncate_after_last_user(pa.array([], MESSAGES_TYPE)).to_pylist() == []


def test_truncate_after_last_user_keeps_null_dialogues():
    column = pa.array([None, [{"content": "q", "role": "user"}, {"content": "a", "role": "assistant"}]], MESSAGES_TYPE)
    assert truncate_after_last_user(column).to_pylist() == [None, [{"content": "q", "role": "user"}]]
