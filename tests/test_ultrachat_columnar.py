"""UltraChat's fast path (JSON Lines in blocks parsed by Arrow, Parquet and Hub tables, converted by
``convert_table``): taken on clean data, refused wherever a row might not convert, and never changing a row,
a batch, a reject, an error or a row count compared with ``convert_row`` row by row."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_sources import RAW_LINES, ULTRACHAT_ROWS, perturbed

from distill_data.errors import InputError
from distill_data.sources.inputs import LocalFile
from distill_data.sources.jsonl_blocks import LineBlock, arrow_rows
from distill_data.sources.rows import FieldProblem
from distill_data.sources.ultrachat import PARSE_SCHEMA, SCHEMA, UltraChatSource, convert_row, convert_table
from distill_data.synthetic import ultrachat_rows

LARGE = pa.large_string()
REAL_UC = Path(__file__).resolve().parent / "data" / "ultrachat_raw.jsonl"


def jsonl(rows: list[Any]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def good_rows(n: int, seed: int = 0) -> list[dict]:
    return list(ultrachat_rows(n, seed=seed))


def read(path: Path, *, fast: bool, on_error: str = "fail", batch_size: int = 7, block_bytes: int = 3000):
    """Rows (one list per batch), rejected count, rejects text and rows_read, with or without the fast path."""
    source = UltraChatSource([str(path)], on_error=on_error, batch_size=batch_size)
    source.rejects = rejects = io.StringIO()
    source.columnar = dataclasses.replace(source.columnar, block_bytes=block_bytes) if fast else None
    batches = [batch.to_pylist() for batch in source.batches()]
    return batches, source.rejected, rejects.getvalue(), source.rows_read


def outcome(path: Path, **options: Any) -> tuple[Any, Any]:
    """What each reader gives (its rows, or its error message), fast path first."""
    results = []
    for fast in (True, False):
        try:
            results.append(read(path, fast=fast, **options))
        except InputError as exc:
            results.append(str(exc))
    return results[0], results[1]


def expected(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist([convert_row(row) for row in rows], schema=SCHEMA)


def test_clean_blocks_take_the_fast_path_and_give_convert_rows_rows(tmp_path):
    rows = good_rows(200)
    path = tmp_path / "uc.jsonl"
    path.write_bytes(jsonl(rows))
    reader = dataclasses.replace(UltraChatSource([str(path)]).columnar, block_bytes=20_000)
    items = list(reader.records_or_tables(LocalFile(path)))
    assert len(items) > 3 and all(isinstance(item, pa.Table) for item in items)
    assert pa.concat_tables(items).equals(expected(rows))
    roles = [m["role"] for row in pa.concat_tables(items).to_pylist() for m in row["messages"]]
    assert roles.count("user") >= roles.count("assistant") > 0


def test_real_and_varied_rows_are_read_the_same_both_ways(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from varied_corpus import varied_ultrachat_rows

    path = tmp_path / "real.jsonl"
    real = REAL_UC.read_bytes()
    path.write_bytes(real * 3 + jsonl(list(varied_ultrachat_rows(150, seed=5))) + real)
    fast, slow = outcome(path, on_error="skip", block_bytes=50_000)
    assert fast == slow
    assert sum(len(batch) for batch in fast[0]) == 154 and fast[1] == 0
    first = fast[0][0][0]
    assert first["id"] == "0" and [m["role"] for m in first["messages"]] == ["user", "assistant"] * 3


@pytest.mark.parametrize("batch_size", [1, 5, 64])
@pytest.mark.parametrize("block_bytes", [1, 2500, 1 << 20])
def test_batches_are_the_same_whatever_the_block_and_batch_sizes(tmp_path, batch_size, block_bytes):
    path = tmp_path / "uc.jsonl"
    path.write_bytes(jsonl(good_rows(40)))
    fast = read(path, fast=True, batch_size=batch_size, block_bytes=block_bytes)
    assert fast == read(path, fast=False, batch_size=batch_size)
    assert [len(batch) for batch in fast[0]][:-1] == [batch_size] * (len(fast[0]) - 1)


def _defects() -> list[tuple[str, bytes, bool]]:
    """Lines the fast path must hand to the row-by-row reader, and whether they are valid rows all the same."""
    text = json.dumps({"id": "9", "data": ["How are you?", "Fine.", "Good."]})
    body = text[:-1].encode()

    def line(value: Any) -> bytes:
        return json.dumps(value).encode()

    return [
        ("blank line", b"   ", True),
        ("leading space", b" " + text.encode(), True),
        ("two objects on a line", text.encode() + b" " + text.encode(), False),
        ("not JSON", b"{not json", False),
        ("a list, not an object", b'[{"data": ["a"]}]', False),
        ("a string, not an object", b'"data"', False),
        ("invalid UTF-8 in a turn", b'{"data": ["caf\xe9"]}', False),
        ("invalid UTF-8 in a skipped field", body + b', "x": "\xff"}', False),
        ("lone surrogate in a skipped field", body + b', "x": "\\ud800"}', True),
        ("lone surrogate in a turn", b'{"data": ["a", "b\\udfffc"]}', False),
        ("lone surrogate in the id", b'{"id": "\\ud800", "data": ["a"]}', False),
        ("reversed surrogate pair", b'{"data": ["\\udc00\\ud800"]}', False),
        ("4,301-digit number in a skipped field", body + b', "x": 1' + b"0" * 4300 + b"}", False),
        ("deep nesting in a skipped field", body + b', "x": ' + b"[" * 3000 + b"]" * 3000 + b"}", False),
        ("huge float in a skipped field", body + b', "x": 1e5000}', True),
        ("duplicate data (the last wins)", body + b', "data": ["other"]}', True),
        ("duplicate id (the last wins)", body + b', "id": "other"}', True),
        ("integer id", line({"id": 7, "data": ["a"]}), False),
        ("float id", line({"id": 7.5, "data": ["a"]}), False),
        ("NaN id", b'{"id": NaN, "data": ["a"]}', False),
        ("boolean id", line({"id": True, "data": ["a"]}), False),
        ("list id", line({"id": ["7"], "data": ["a"]}), False),
        ("missing data", line({"id": "7"}), False),
        ("null data", line({"id": "7", "data": None}), False),
        ("empty data", line({"id": "7", "data": []}), False),
        ("string data", line({"id": "7", "data": "hello"}), False),
        ("object data", line({"id": "7", "data": {"0": "hello"}}), False),
        ("null turn", line({"id": "7", "data": ["a", None]}), False),
        ("number turn", line({"id": "7", "data": ["a", 2]}), False),
        ("list turn", line({"id": "7", "data": [["a"]]}), False),
    ]


@pytest.mark.parametrize(("name", "line", "valid"), _defects(), ids=[name for name, _, _ in _defects()])
def test_a_defect_sends_its_block_to_the_row_by_row_reader(tmp_path, name, line, valid):
    rows = good_rows(12)
    lines = jsonl(rows).splitlines(keepends=True)
    lines.insert(6, line + b"\n")
    path = tmp_path / "uc.jsonl"
    path.write_bytes(b"".join(lines))
    fast, slow = outcome(path, on_error="skip")
    assert fast == slow
    parsed = arrow_rows(LineBlock(line + b"\n" + jsonl(rows[:1]), 5), PARSE_SCHEMA)
    assert parsed is None or convert_table(parsed) is None or valid, f"{name} was taken by the fast path"
    fast, slow = outcome(path)
    assert fast == slow
    if valid:
        assert not isinstance(fast, str)
    else:
        assert isinstance(fast, str) and "line 7" in fast, fast


def test_convert_table_refuses_what_convert_row_refuses():
    def parsed(rows: list[dict]) -> pa.Table:
        return pa.Table.from_pylist(rows, schema=PARSE_SCHEMA)

    rows = [{"id": "a", "data": ["x", "y", "z"]}, {"data": ["q"]}, {"id": None, "data": ["", "2"]}]
    table = parsed(rows)
    for part in (table, table.slice(1), table.slice(1, 1), table.slice(0, 0)):
        assert convert_table(part).equals(expected(part.to_pylist()))
    for bad in ({"id": "a"}, {"id": "a", "data": None}, {"data": []}, {"data": ["a", None]}):
        assert convert_table(parsed([*rows, bad])) is None
        assert convert_table(parsed([bad, *rows]).slice(1)) is not None  # the bad row sliced away
        with pytest.raises(FieldProblem) as problem:
            convert_row(bad)
        assert problem.value.field.startswith("data")


def test_an_empty_file_is_an_error_both_ways(tmp_path):
    for number, data in enumerate([b"\n\n", b"\xef\xbb\xbf", b""]):
        empty = tmp_path / f"empty{number}.jsonl"
        empty.write_bytes(data)
        fast, slow = outcome(empty)
        assert fast == slow and "empty input" in fast


def test_gzip_files_take_the_fast_path_and_a_truncated_one_fails_at_the_same_line(tmp_path):
    data = gzip.compress(jsonl(good_rows(300)))
    path = tmp_path / "uc.jsonl.gz"
    path.write_bytes(data)
    reader = dataclasses.replace(UltraChatSource([str(path)]).columnar, block_bytes=5000)
    assert all(isinstance(item, pa.Table) for item in reader.records_or_tables(LocalFile(path)))
    assert read(path, fast=True) == read(path, fast=False)
    path.write_bytes(data[: len(data) * 2 // 3])
    for on_error in ("skip", "fail"):
        fast, slow = outcome(path, on_error=on_error, block_bytes=5000)
        assert fast == slow
    assert "line" in fast and "gzip" in fast


def _line(item: Any, ascii_only: bool) -> bytes:
    """A raw line as it is, a row as JSON (lone surrogates written as they are, which is invalid UTF-8)."""
    if isinstance(item, tuple):
        return item[0]
    return json.dumps(item, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def ultrachat_lines(draw: st.DrawFn) -> bytes:
    """Mostly valid rows (so that whole blocks take the fast path), some broken rows and lines between them."""
    items = draw(
        st.lists(
            st.one_of(ULTRACHAT_ROWS, ULTRACHAT_ROWS, ULTRACHAT_ROWS, perturbed(ULTRACHAT_ROWS), RAW_LINES),
            min_size=1,
            max_size=12,
        )
    )
    ascii_only = draw(st.booleans())
    return b"\n".join(_line(item, ascii_only) for item in items) + draw(st.sampled_from([b"", b"\n", b"\r\n"]))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=ultrachat_lines(), block_bytes=st.integers(1, 3000))
def test_fast_and_row_by_row_reading_agree_on_any_lines(tmp_path, data, block_bytes):
    path = tmp_path / "uc.jsonl"
    path.write_bytes(data)
    for on_error in ("skip", "fail"):
        fast, slow = outcome(path, on_error=on_error, batch_size=2, block_bytes=block_bytes)
        assert fast == slow


def _parquet(path: Path, table: pa.Table) -> Path:
    import pyarrow.parquet as pq

    pq.write_table(table, path, row_group_size=7)
    return path


def test_parquet_files_take_the_fast_path_too(tmp_path):
    rows = good_rows(30)
    reader = _reader()
    for name, table in {
        "plain": pa.Table.from_pylist(rows),
        "large types": pa.Table.from_pylist(rows, pa.schema([("id", LARGE), ("data", pa.large_list(LARGE))])),
        "no id": pa.Table.from_pylist([{"data": r["data"]} for r in rows]),
        "null ids": pa.Table.from_pylist([{"id": None, "data": r["data"]} for r in rows]),
    }.items():
        path = _parquet(tmp_path / f"{name}.parquet", table)
        items = list(reader.records_or_tables(LocalFile(path)))
        assert len(items) == 4 and all(isinstance(item, pa.Table) for item in items), name
        assert read(path, fast=True) == read(path, fast=False)


def _reader() -> Any:
    """The fast path's reader, in tables of 8 rows."""
    return dataclasses.replace(UltraChatSource([str(REAL_UC)]).columnar, table_rows=8)


def test_parquet_columns_of_other_types_or_bad_rows_are_read_row_by_row(tmp_path):
    rows = good_rows(12)
    rows[5]["data"].append(None)
    path = _parquet(tmp_path / "null_turn.parquet", pa.Table.from_pylist(rows))
    fast, slow = outcome(path, on_error="skip")
    assert fast == slow and fast[1] == 1
    fast, slow = outcome(path)
    assert fast == slow and "row 6: field 'data[" in fast
    numbers = [dict(row, id=i) for i, row in enumerate(good_rows(6))]
    path = _parquet(tmp_path / "int_ids.parquet", pa.Table.from_pylist(numbers))  # ints: not the parsed type
    assert not any(isinstance(item, pa.Table) for item in _reader().records_or_tables(LocalFile(path)))
    fast, slow = outcome(path, on_error="skip")
    assert fast == slow and fast[1] == 6


def test_parquet_text_that_is_not_utf8_is_named_on_both_paths(tmp_path):
    rows = good_rows(4)
    ids = [str(i).encode() for i in range(4)]
    ids[2] = b"caf\xe9"
    table = pa.Table.from_pylist(rows).set_column(0, "id", pa.array(ids, pa.binary()).view(pa.string()))
    path = _parquet(tmp_path / "latin1.parquet", table)
    fast, slow = outcome(path)
    assert fast == slow and "row 3" in fast and "not UTF-8" in fast


_READ_BOTH_WAYS = """
import dataclasses, json, sys
import pyarrow as pa
from distill_data.sources.inputs import HubDataset
from distill_data.sources.ultrachat import UltraChatSource

def rows(fast):
    source = UltraChatSource([sys.argv[1]], on_error="skip", batch_size=7)
    source.columnar = dataclasses.replace(source.columnar, table_rows=5) if fast else None
    return [row for batch in source.batches() for row in batch.to_pylist()], source.rejected

reader = dataclasses.replace(UltraChatSource([sys.argv[1]]).columnar, table_rows=5)
items = list(reader.records_or_tables(HubDataset(sys.argv[1])))
print(json.dumps({"tables": sum(isinstance(i, pa.Table) for i in items), "fast": rows(True), "slow": rows(False)}))
"""


def test_hub_rows_take_the_fast_path_and_match_the_row_by_row_reader(tmp_path: Path) -> None:
    from hub_server import serve

    root = tmp_path / "hub"
    repo = root / "tester" / "uc-mini" / "data"
    repo.mkdir(parents=True)
    rows = good_rows(25, seed=3)
    rows[4]["data"] = []  # set aside on both paths
    (repo / "train.jsonl").write_bytes(jsonl(rows))
    server, url, _ = serve(root)
    try:
        env = dict(os.environ, HF_ENDPOINT=url, HF_HUB_DISABLE_XET="1", HF_HOME=str(tmp_path / "hf_home"))
        env.pop("HF_TOKEN", None)
        done = subprocess.run(
            [sys.executable, "-c", _READ_BOTH_WAYS, "tester/uc-mini"], env=env, capture_output=True, text=True
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["fast"] == result["slow"]
    fast_rows, rejected = result["fast"]
    assert len(fast_rows) == 24 and rejected == 1
    assert result["tables"] == 4  # of 5 tables of 5 rows: the one with the bad row went row by row
