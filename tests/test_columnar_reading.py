"""The fast path of sources (JSON Lines in blocks parsed by Arrow, Parquet and Hub tables): taken on clean
data, refused wherever Arrow could read a line differently from ``json.loads``, and never changing a row, a
batch, a reject or an error."""

from __future__ import annotations

import dataclasses
import gzip
import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz_sources import FEEDBACK_ROWS, RAW_LINES, perturbed

from distill_data.errors import InputError
from distill_data.sources.inputs import LocalFile
from distill_data.sources.jsonl_blocks import LineBlock, ReadFailure, arrow_rows, arrow_safe, line_blocks
from distill_data.sources.ultrafeedback import PARSE_SCHEMA, SCHEMA, UltraFeedbackSource, convert_row, convert_table
from distill_data.synthetic import ultrafeedback_rows

REAL_UF = Path(__file__).resolve().parent / "data" / "ultrafeedback_raw_partial.jsonl"


def jsonl(rows: list[Any]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def good_rows(n: int, seed: int = 0) -> list[dict]:
    return list(ultrafeedback_rows(n, seed=seed))


def read(path: Path, *, fast: bool, on_error: str = "fail", batch_size: int = 7, block_bytes: int = 3000):
    """Rows (one list per batch), rejected count, rejects text and rows_read, with or without the fast path."""
    source = UltraFeedbackSource([str(path)], on_error=on_error, batch_size=batch_size)
    source.rejects = rejects = __import__("io").StringIO()
    if fast:
        source.columnar = dataclasses.replace(source.columnar, block_bytes=block_bytes)
    else:
        source.columnar = None
    batches = [batch.to_pylist() for batch in source.batches()]
    return batches, source.rejected, rejects.getvalue(), source.rows_read


def block(data: bytes, first_line: int = 5) -> LineBlock:
    return LineBlock(data, first_line)


def test_clean_blocks_take_the_fast_path_and_give_convert_rows_rows(tmp_path):
    rows = good_rows(60)
    path = tmp_path / "uf.jsonl"
    path.write_bytes(jsonl(rows))
    reader = dataclasses.replace(UltraFeedbackSource([str(path)]).columnar, block_bytes=20_000)
    items = list(reader.records_or_tables(LocalFile(path)))
    assert len(items) > 3 and all(isinstance(item, pa.Table) for item in items)
    expected = pa.Table.from_pylist([convert_row(row) for row in rows], schema=SCHEMA)
    assert pa.concat_tables(items).equals(expected)


def test_real_rows_are_read_the_same_both_ways(tmp_path):
    path = tmp_path / "real.jsonl"
    path.write_bytes(REAL_UF.read_bytes() * 3)  # line 1 lacks the annotations of completions 2-4: set aside
    fast = read(path, fast=True, on_error="skip")
    assert fast == read(path, fast=False, on_error="skip")
    assert sum(len(batch) for batch in fast[0]) == 3 and fast[1] == 3


@pytest.mark.parametrize("batch_size", [1, 5, 64])
@pytest.mark.parametrize("block_bytes", [1, 2500, 1 << 20])
def test_batches_are_the_same_whatever_the_block_and_batch_sizes(tmp_path, batch_size, block_bytes):
    path = tmp_path / "uf.jsonl"
    path.write_bytes(jsonl(good_rows(40)))
    fast = read(path, fast=True, batch_size=batch_size, block_bytes=block_bytes)
    assert fast == read(path, fast=False, batch_size=batch_size)
    assert [len(batch) for batch in fast[0]][:-1] == [batch_size] * (len(fast[0]) - 1)


def _defects() -> list[tuple[str, bytes]]:
    """Lines the fast path must hand to the row-by-row reader, each next to a valid row's text."""
    row = good_rows(1, seed=7)[0]
    text = json.dumps(row)

    def edited(change) -> bytes:
        copy = json.loads(text)
        change(copy)
        return json.dumps(copy).encode()

    def rating(value):
        return lambda r: r["completions"][1]["annotations"]["honesty"].__setitem__("Rating", value)

    return [
        ("blank line", b"   "),
        ("leading space", b" " + text.encode()),
        ("two objects on a line", text.encode() + b" " + text.encode()),
        ("not JSON", b"{not json"),
        ("a list, not an object", b"[1, 2]"),
        ("invalid UTF-8 in a skipped field", text[:-1].encode() + b', "x": "\xff"}'),
        ("lone surrogate in a skipped field", text[:-1].encode() + b', "x": "\\ud800"}'),
        ("lone surrogate in the prompt", edited(lambda r: r.__setitem__("instruction", "a\ud800b"))),
        ("4,301-digit number in a skipped field", text[:-1].encode() + b', "x": 1' + b"0" * 4300 + b"}"),
        ("deep nesting in a skipped field", text[:-1].encode() + b', "x": ' + b"[" * 3000 + b"]" * 3000 + b"}"),
        ("duplicate key", text[:-1].encode() + b', "instruction": "other"}'),
        ("NaN score", edited(lambda r: r["completions"][0].__setitem__("overall_score", float("nan")))),
        ("huge score", edited(lambda r: r["completions"][0].__setitem__("overall_score", 10**400))),
        ("integer rating", edited(rating(4))),
        ("rating out of range", edited(rating("6"))),
        ("null rating", edited(rating(None))),
        ("missing rating", edited(lambda r: r["completions"][2]["annotations"]["honesty"].pop("Rating"))),
        ("missing aspect", edited(lambda r: r["completions"][0]["annotations"].pop("truthfulness"))),
        ("null annotations", edited(lambda r: r["completions"][0].__setitem__("annotations", None))),
        ("null completion", edited(lambda r: r["completions"].__setitem__(1, None))),
        ("null completions", edited(lambda r: r.__setitem__("completions", None))),
        ("missing prompt", edited(lambda r: r.pop("instruction"))),
        ("number prompt", edited(lambda r: r.__setitem__("instruction", 3))),
        ("null model", edited(lambda r: r["completions"][0].__setitem__("model", None))),
        ("boolean source", edited(lambda r: r.__setitem__("source", True))),
    ]


@pytest.mark.parametrize(("name", "line"), _defects(), ids=[name for name, _ in _defects()])
def test_a_defect_sends_its_block_to_the_row_by_row_reader(tmp_path, name, line):
    rows = good_rows(12)
    lines = jsonl(rows).splitlines(keepends=True)
    lines.insert(6, line + b"\n")
    path = tmp_path / "uf.jsonl"
    path.write_bytes(b"".join(lines))
    assert read(path, fast=True, on_error="skip") == read(path, fast=False, on_error="skip")
    assert arrow_rows(block(line + b"\n" + jsonl(rows[:1])), PARSE_SCHEMA) is None or (
        convert_table(arrow_rows(block(line + b"\n" + jsonl(rows[:1])), PARSE_SCHEMA)) is None
    ), f"{name} was taken by the fast path"
    errors = []
    for fast in (True, False):
        try:
            read(path, fast=fast)
            errors.append(None)
        except InputError as exc:
            errors.append(str(exc))
    assert errors[0] == errors[1]
    if name in ("blank line", "leading space", "lone surrogate in a skipped field", "duplicate key", "integer rating"):
        assert errors[0] is None  # valid rows (the last key wins) that Arrow refuses or reads otherwise
    else:
        assert errors[0] is not None and "line 7" in errors[0]


def test_arrow_safe_checks(tmp_path):
    text = jsonl(good_rows(3))
    assert arrow_safe(LineBlock(b"\xef\xbb\xbf" + text, 1))  # a BOM opens line 1 only
    assert not arrow_safe(LineBlock(b"\xef\xbb\xbf" + text, 2))
    assert arrow_safe(block(text + b'{"a": "' + b"9" * 4299 + b'"}\n'))  # 4,299 digits: json.loads reads it
    assert not arrow_safe(block(text + b'{"a": "' + b"9" * 4300 + b'"}\n'))
    assert arrow_safe(block(text + b'{"a": ' + b"[" * 498 + b"]" * 498 + b"}\n"))  # 499 openings with the {
    assert not arrow_safe(block(text + b'{"a": ' + b"[" * 499 + b"]" * 499 + b"}\n"))
    # 300 brackets on each of three lines are not 900 on one.
    assert arrow_safe(block(b"".join(b'{"a": ' + b"[" * 299 + b"]" * 299 + b"}\n" for _ in range(3))))
    assert arrow_safe(block(text.rstrip(b"\n")))  # a last line without its newline


def test_convert_table_refuses_what_convert_row_refuses():
    rows = good_rows(4)
    parsed = arrow_rows(block(jsonl(rows)), PARSE_SCHEMA)
    assert convert_table(parsed).equals(pa.Table.from_pylist([convert_row(r) for r in rows], schema=SCHEMA))
    no_score = [dict(r, completions=[dict(c, overall_score=None) for c in r["completions"]]) for r in rows]
    parsed = arrow_rows(block(jsonl(no_score)), PARSE_SCHEMA)
    assert convert_table(parsed) is not None
    assert convert_table(parsed, require_overall_score=True) is None
    with pytest.raises(Exception, match="overall_score"):
        convert_row(no_score[0], require_overall_score=True)


def test_rows_without_completions_and_an_empty_file(tmp_path):
    rows = [{"instruction": "a", "completions": []}, {"instruction": "b", "source": None, "completions": []}]
    path = tmp_path / "uf.jsonl"
    path.write_bytes(jsonl(rows))
    assert read(path, fast=True) == read(path, fast=False)
    for number, data in enumerate([b"\n\n", b"\xef\xbb\xbf", b""]):
        empty = tmp_path / f"empty{number}.jsonl"
        empty.write_bytes(data)
        for fast in (True, False):
            with pytest.raises(InputError, match="empty input"):
                read(empty, fast=fast)


def test_line_blocks_cover_every_line_once(tmp_path):
    rng = random.Random(3)
    lines = [b"x" * rng.randrange(0, 300) for _ in range(500)]
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"\n".join(lines))  # no newline at the end
    blocks = list(line_blocks(path, block_bytes=1000))
    assert all(isinstance(b, LineBlock) for b in blocks)
    numbered = [(number, line.rstrip(b"\n")) for b in blocks for number, line in b.lines()]
    assert numbered == list(enumerate(lines, start=1))


def test_a_truncated_gzip_file_is_reported_at_the_same_line(tmp_path):
    data = gzip.compress(jsonl(good_rows(300)))
    path = tmp_path / "uf.jsonl.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    assert isinstance(list(line_blocks(path, block_bytes=5000))[-1], ReadFailure)
    for on_error in ("skip", "fail"):
        outcomes = []
        for fast in (True, False):
            try:
                outcomes.append(read(path, fast=fast, on_error=on_error))
            except InputError as exc:
                outcomes.append(str(exc))
        assert outcomes[0] == outcomes[1]
    assert "line" in outcomes[0] and "gzip" in outcomes[0]


def test_a_line_longer_than_arrows_pieces_stays_on_the_fast_path(tmp_path, monkeypatch):
    from distill_data.sources import jsonl_blocks

    monkeypatch.setattr(jsonl_blocks, "ARROW_BLOCK_BYTES", 1000)  # rows are several KB
    rows = good_rows(5)
    parsed = arrow_rows(block(jsonl(rows)), PARSE_SCHEMA)
    assert parsed is not None
    assert convert_table(parsed).equals(pa.Table.from_pylist([convert_row(r) for r in rows], schema=SCHEMA))


def _line(item: Any, ascii_only: bool) -> bytes:
    """A raw line as it is, a row as JSON (lone surrogates written as they are, which is invalid UTF-8)."""
    if isinstance(item, tuple):
        return item[0]
    return json.dumps(item, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def feedback_lines(draw: st.DrawFn) -> bytes:
    """Mostly valid rows (so that whole blocks take the fast path), some broken rows and lines between them."""
    items = draw(
        st.lists(
            st.one_of(FEEDBACK_ROWS, FEEDBACK_ROWS, FEEDBACK_ROWS, perturbed(FEEDBACK_ROWS), RAW_LINES),
            min_size=1,
            max_size=12,
        )
    )
    ascii_only = draw(st.booleans())
    return b"\n".join(_line(item, ascii_only) for item in items) + draw(st.sampled_from([b"", b"\n", b"\r\n"]))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=feedback_lines(), block_bytes=st.integers(1, 3000))
def test_fast_and_row_by_row_reading_agree_on_any_lines(tmp_path, data, block_bytes):
    path = tmp_path / "uf.jsonl"
    path.write_bytes(data)
    for on_error in ("skip", "fail"):
        outcomes = []
        for fast in (True, False):
            try:
                outcomes.append(read(path, fast=fast, on_error=on_error, batch_size=2, block_bytes=block_bytes))
            except InputError as exc:
                outcomes.append(str(exc))
        assert outcomes[0] == outcomes[1]


def _parquet(path: Path, rows: list[dict], schema: pa.Schema | None = None) -> Path:
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, row_group_size=7)
    return path


def test_parquet_files_take_the_fast_path_too(tmp_path):
    rows = good_rows(30)
    path = _parquet(tmp_path / "uf.parquet", rows)
    reader = dataclasses.replace(UltraFeedbackSource([str(path)]).columnar, table_rows=8)
    items = list(reader.records_or_tables(LocalFile(path)))
    assert len(items) == 4 and all(isinstance(item, pa.Table) for item in items)
    assert read(path, fast=True) == read(path, fast=False)
    # As `distill-data rate` writes them: no overall_score, no source column.
    bare = [{"instruction": r["instruction"], "completions": r["completions"]} for r in rows]
    for row in bare:
        row["completions"] = [{k: v for k, v in c.items() if k != "overall_score"} for c in row["completions"]]
    path = _parquet(tmp_path / "rated.parquet", bare)
    assert all(isinstance(item, pa.Table) for item in reader.records_or_tables(LocalFile(path)))
    assert read(path, fast=True) == read(path, fast=False)


def test_parquet_columns_of_other_types_or_bad_rows_are_read_row_by_row(tmp_path):
    rows = good_rows(12)
    rows[5]["completions"][0]["annotations"]["honesty"]["Rating"] = "7"
    path = _parquet(tmp_path / "bad_rating.parquet", rows)
    assert read(path, fast=True, on_error="skip") == read(path, fast=False, on_error="skip")
    with pytest.raises(InputError, match=r"row 6: field 'completions\[0\]\.annotations\.honesty\.Rating'"):
        read(path, fast=True)
    numbers = good_rows(6)
    for row in numbers:
        for completion in row["completions"]:
            for aspect in completion["annotations"].values():
                aspect["Rating"] = 3 if aspect["Rating"] != "N/A" else None
    path = _parquet(tmp_path / "int_ratings.parquet", numbers)  # ints: valid, but not the parsed type
    reader = UltraFeedbackSource([str(path)]).columnar
    assert not any(isinstance(item, pa.Table) for item in reader.records_or_tables(LocalFile(path)))
    assert read(path, fast=True, on_error="skip") == read(path, fast=False, on_error="skip")


def test_parquet_text_that_is_not_utf8_is_named_on_both_paths(tmp_path):
    import pyarrow.parquet as pq

    rows = good_rows(4)
    table = pa.Table.from_pylist(rows)
    prompts = [r["instruction"].encode() for r in rows]
    prompts[2] = b"caf\xe9"
    latin1 = pa.array(prompts, pa.binary()).view(pa.string())  # no check: the bytes stay as they are
    table = table.set_column(table.schema.get_field_index("instruction"), "instruction", latin1)
    path = tmp_path / "latin1.parquet"
    pq.write_table(table, path)
    outcomes = []
    for fast in (True, False):
        with pytest.raises(InputError) as caught:
            read(path, fast=fast)
        outcomes.append(str(caught.value))
    assert outcomes[0] == outcomes[1] and "row 3" in outcomes[0] and "not UTF-8" in outcomes[0]


def test_narrow_keeps_nulls_and_fills_missing_fields():
    from distill_data.sources.columnar import narrow

    table = pa.Table.from_pylist(
        [
            {"instruction": "a", "completions": None, "extra": 1},
            {"instruction": None, "completions": [{"model": "m", "response": "r", "annotations": None, "x": 2}]},
        ]
    )
    narrowed = narrow(table.slice(0, 2), PARSE_SCHEMA)
    assert narrowed.schema == PARSE_SCHEMA
    assert narrowed.column("source").null_count == 2
    assert narrowed.to_pylist()[0]["completions"] is None
    completion = narrowed.to_pylist()[1]["completions"][0]
    assert completion["model"] == "m" and completion["annotations"] is None and completion["overall_score"] is None
    assert narrow(table.set_column(0, "instruction", pa.array([1, 2])), PARSE_SCHEMA) is None


# Valid sequences, and the invalid ones that decoders get wrong: surrogates, overlong forms, past U+10FFFF, cut.
_UTF8_PIECES = st.sampled_from(
    [
        bytes.fromhex(piece)
        for piece in "61 7b 0a 00 c3a9 e282ac f09f9880 efbbbf ed9fbf ee8080 f48fbfbf"  # valid
        " eda080 edbfbf c080 c1bf e08080 f0808080 f4908080 f5808080 ff 80 c3 e282 f09f98".split()
    ]
)


@given(st.one_of(st.binary(max_size=64), st.lists(_UTF8_PIECES, max_size=12).map(b"".join)))
def test_arrows_utf8_check_is_pythons(data):
    """Surrogates, overlong forms, code points past U+10FFFF and cut sequences are refused as bytes.decode does."""
    from distill_data.sources.jsonl_blocks import _is_utf8

    try:
        data.decode("utf-8")
        decodes = True
    except UnicodeDecodeError:
        decodes = False
    assert _is_utf8(data) == decodes
    assert _is_utf8(b"x" * 100 + data + b"y" * 33) == decodes  # past the validator's ASCII fast path too


@given(st.lists(st.text('{[]}a"', max_size=40), min_size=1, max_size=8))
def test_the_most_openings_on_a_line_are_counted_line_by_line(lines):
    import numpy as np

    from distill_data.sources.jsonl_blocks import _most_openings_on_a_line

    data = "\n".join(lines).encode()
    starts = np.cumsum([0] + [len(line) + 1 for line in lines[:-1]])
    most = max(line.count("{") + line.count("[") for line in lines)
    assert _most_openings_on_a_line(np.frombuffer(data, dtype=np.uint8), starts) == most
