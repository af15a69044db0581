"""Bad input: a clear error naming file, line and field, exit 1 and nothing written; or rejects.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_jsonl

from distill_data.cli import cli

GOOD = {"id": "1", "data": ["How do plants make food?", "Through photosynthesis, using light."]}
GOOD2 = {"id": "2", "data": ["What is compound interest?", "Interest earned on interest."]}


def run(tmp_path: Path, *args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["ultrachat", "--filter", "--no-progress", "-o", str(tmp_path / "out"), *map(str, args)]
    )
    return result.exit_code, result.output


def assert_nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "out").exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")], "staging folder left behind"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"id": "x", "data": ["a", "b"]', "invalid JSON"),
        (json.dumps({"id": "x"}), "field 'data': missing"),
        (json.dumps({"id": "x", "data": "just a string"}), "field 'data': expected a list of turns, got str"),
        (json.dumps({"id": "x", "data": ["hi", 42]}), "field 'data[1]': turn is not a string (got int)"),
        (json.dumps({"id": "x", "data": ["hi", None]}), "field 'data[1]': turn is not a string (got null)"),
        (json.dumps({"id": "x", "data": []}), "field 'data': empty list"),
        (json.dumps({"id": ["x"], "data": ["a", "b"]}), "field 'id': expected a string, got list"),
        (json.dumps(["a", "b"]), "expected a JSON object, got list"),
    ],
)
def test_bad_row_stops_with_file_line_and_field(tmp_path: Path, line: str, expected: str) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD2) + "\n" + line + "\n", encoding="utf-8")
    code, output = run(tmp_path, "-i", source)
    assert code == 1, output
    flat = " ".join(output.split())
    assert f"{source}, line 3" in flat
    assert expected in flat
    assert_nothing_written(tmp_path)


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [GOOD])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    code, output = run(tmp_path, "-i", good, "-i", empty)
    assert code == 1
    assert "empty.jsonl" in output and "empty input" in output
    assert_nothing_written(tmp_path)


def test_json_array_and_parquet_name_the_row(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    array = tmp_path / "rows.json"
    array.write_text(json.dumps([GOOD, {"id": "b"}]), encoding="utf-8")
    code, output = run(tmp_path, "-i", array)
    assert code == 1 and "row 2" in output and "field 'data'" in output

    parquet = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist([GOOD, {"id": "2", "data": None}]), parquet)
    code, output = run(tmp_path, "-i", parquet)
    assert code == 1 and "row 2" in output and "field 'data'" in output
    assert_nothing_written(tmp_path)


def test_invalid_utf8_and_bom(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\r\n" + b'{"id": "2", "data": ["\xff"]}\n')
    code, output = run(tmp_path, "-i", source)
    assert code == 1 and "line 2" in output and "invalid UTF-8" in output
    # the BOM and the Windows line ending of line 1 were accepted: with skip, line 1 is kept
    code, output = run(tmp_path, "-i", source, "--on-error", "skip")
    assert code == 0, output
    assert json.loads((tmp_path / "out" / "provenance.json").read_text())["rows_read"] == 1


def test_skip_sets_bad_rows_aside_with_reasons(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    lines = [json.dumps(GOOD), "not json", json.dumps({"id": "3", "data": ["q", 5]}), json.dumps(GOOD2)]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, output = run(tmp_path, "-i", source, "--on-error", "skip")
    assert code == 0, output
    rejects = [json.loads(line) for line in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert [(r["location"], r["field"]) for r in rejects] == [("line 2", None), ("line 3", "data[1]")]
    assert rejects[0]["reason"].startswith("invalid JSON") and rejects[0]["raw"] == "not json"
    assert rejects[1]["reason"] == "turn is not a string (got int)" and rejects[1]["file"] == str(source)
    record = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert (record["rows_read"], record["rejected"]) == (2, 2)
    assert "2 rows set aside" in output


def test_skip_with_nothing_valid_is_still_an_error(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("nope\n", encoding="utf-8")
    code, output = run(tmp_path, "-i", source, "--on-error", "skip")
    assert code == 1 and "no valid rows" in output
    assert_nothing_written(tmp_path)


def test_missing_input_file(tmp_path: Path) -> None:
    code, output = run(tmp_path, "-i", tmp_path / "nope.jsonl")
    assert code == 1 and "nope.jsonl: no such file or folder" in " ".join(output.split())
    code, output = run(tmp_path, "-i", str(tmp_path / "*.jsonl"))
    assert code == 1 and "no file matches" in output
    (tmp_path / "notes.txt").write_text("x")
    code, output = run(tmp_path, "-i", tmp_path / "notes.txt")
    assert code == 1 and "unsupported file type '.txt'" in output


def test_existing_output_is_refused_then_replaced_with_overwrite(tmp_path: Path) -> None:
    """--overwrite replaces an earlier output, never a folder of other files (that takes --force-overwrite)."""
    source = write_jsonl(tmp_path / "in.jsonl", [GOOD, GOOD2])
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    code, output = run(tmp_path, "-i", source)
    assert code == 1 and "--overwrite" in output
    code, output = run(tmp_path, "-i", source, "--overwrite")
    assert code == 1 and "--force-overwrite" in output
    assert (out / "keep.txt").read_text() == "precious"
    code, output = run(tmp_path, "-i", source, "--force-overwrite")
    assert code == 0, output
    assert not (out / "keep.txt").exists() and (out / "provenance.json").exists()
    code, output = run(tmp_path, "-i", source, "--overwrite")  # an earlier output: replaced
    assert code == 0, output


def test_failure_with_overwrite_keeps_the_old_output(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "in.jsonl", [GOOD, GOOD2])
    assert run(tmp_path, "-i", good)[0] == 0
    before = (tmp_path / "out" / "provenance.json").read_bytes()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(GOOD) + "\n{oops\n", encoding="utf-8")
    code, _ = run(tmp_path, "-i", bad, "--overwrite")
    assert code == 1
    assert (tmp_path / "out" / "provenance.json").read_bytes() == before


@pytest.mark.parametrize(
    "args",
    [
        ("--test-size", "abc"),
        ("--test-size", "1.5"),
        ("--on-error", "ignore"),
        ("--max-samples", "0"),
        ("--format", "csv"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [GOOD, GOOD2])
    code, output = run(tmp_path, "-i", source, *args)
    assert code == 2, output
    assert_nothing_written(tmp_path)


def test_test_size_that_leaves_no_training_rows(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [GOOD, GOOD2])
    code, output = run(tmp_path, "-i", source, "--test-size", "2")
    assert code == 2 and "leaves no training rows" in output
    assert_nothing_written(tmp_path)


def test_damaged_parquet_is_named(tmp_path: Path) -> None:
    damaged = tmp_path / "rows.parquet"
    damaged.write_bytes(b"PAR1 this is not really parquet")
    code, output = run(tmp_path, "-i", damaged)
    assert code == 1 and "rows.parquet" in output and "not a readable Parquet file" in output
    assert_nothing_written(tmp_path)
