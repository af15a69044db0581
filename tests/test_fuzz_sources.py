"""Both sources on hostile files: every row ends as a correct row or as a located error/reject, never a crash.

Generated rows (valid, valid with one field replaced, deleted or retyped, or any JSON value) are written in
every layout the readers accept (JSON Lines or a JSON array; BOM, CRLF, blank lines, no final newline; ASCII
escapes or raw UTF-8, where a lone surrogate becomes invalid UTF-8; plain, gzip, bzip2, xz or zstd) and read
through the real reading path. An independent model of each schema says what must come out. Example counts
follow the hypothesis profile (see tests/conftest.py).
"""

from __future__ import annotations

import bz2
import copy
import gzip
import io
import json
import lzma
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import zstandard
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from distill_data.cli import cli
from distill_data.errors import InputError
from distill_data.sources import UltraChatSource
from distill_data.sources.ultrafeedback import ASPECTS, UltraFeedbackSource

# --- values -------------------------------------------------------------------------------------------------

HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\t \n",
        "\x00",
        "nul\x00inside",
        "\ufeffBOM first",
        "\u202eRTL override",
        "שלום עולם",
        "مرحبا بالعالم",
        "e\u0301\u0327",
        "👩‍👩‍👧‍👦 family",
        "line\r\nbreak",
        "\u2028\u2029",
        "\U0010ffff",
        "&amp; Ã©",
        "\ud800",  # lone surrogates: valid as a JSON escape, not valid Unicode
        "x\udfffy",
        "\udbff\udfff",  # a surrogate pair: one valid character once written as JSON and read back
        "123",
        "4.5",
        "N/A",
        "null",
    ]
)
TEXT = st.one_of(HOSTILE_TEXT, st.text(max_size=12), st.text(st.characters(exclude_categories=()), max_size=6))
NUMBERS = st.one_of(st.integers(), st.integers(-(10**400), 10**400), st.floats(), st.sampled_from([1, 5, 0, 6, 1.0]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6
)
ULTRACHAT_ROWS = st.fixed_dictionaries(
    {"data": st.lists(TEXT, min_size=1, max_size=4)}, optional={"id": st.one_of(TEXT, st.integers()), "extra": JSON}
)
RATING = st.sampled_from(["1", "2", "3", "4", "5", "N/A", 1, 5])
COMPLETIONS = st.fixed_dictionaries(
    {
        "model": TEXT,
        "response": TEXT,
        "annotations": st.fixed_dictionaries(
            {aspect: st.fixed_dictionaries({"Rating": RATING}, optional={"Rationale": TEXT}) for aspect in ASPECTS}
        ),
    },
    optional={"overall_score": st.one_of(st.none(), st.integers(1, 10), st.floats(0, 10)), "critique": TEXT},
)
FEEDBACK_ROWS = st.fixed_dictionaries(
    {"instruction": TEXT, "completions": st.lists(COMPLETIONS, max_size=3)},
    optional={"source": st.one_of(st.none(), TEXT), "models": JSON},
)


def _places(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in a nested value."""
    places = []
    if isinstance(value, dict):
        for key, item in value.items():
            places.append((value, key))
            places.extend(_places(item))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            places.append((value, index))
            places.extend(_places(item))
    return places


@st.composite
def perturbed(draw: st.DrawFn, rows: st.SearchStrategy) -> Any:
    """A valid row with one field deleted, replaced by any JSON value, or turned from a number into a string."""
    row = copy.deepcopy(draw(rows))
    places = _places(row)
    container, key = places[draw(st.integers(0, len(places) - 1))]
    action = draw(st.sampled_from(["delete", "replace", "stringify", "numberify"]))
    if action == "delete":
        del container[key]
    elif action == "replace":
        container[key] = draw(JSON)
    elif action == "stringify":
        container[key] = json.dumps(container[key])
    else:
        container[key] = draw(NUMBERS)
    return row


def rows_of(valid: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(valid, perturbed(valid), JSON)


# Whole lines that are not a row: what the reader must reject, with the reason it must give.
RAW_LINES = st.sampled_from(
    [
        (b'{"data": ["unterminated', "invalid JSON"),
        (b"\xff\xfe{}", "invalid UTF-8"),
        (b'{"data": ["cut \xc3"]}', "invalid UTF-8"),
        (b'{"data": ["a\xed\xa0\x80"]}', "invalid UTF-8"),  # a surrogate written as (invalid) UTF-8
        (b"[" * 3000 + b"]" * 3000, "nested too deeply"),
        (b'{"id": 1' + b"0" * 5000 + b', "data": ["a"]}', "digits"),
        (b"\xef\xbb\xbf{}", "invalid JSON"),  # a BOM that does not start the file
    ]
)


# --- the models: what a row must become -------------------------------------------------------------------


class Bad(Exception):
    """The model's verdict: this row must be rejected."""


def _text(value: Any) -> str:
    if not isinstance(value, str) or re.search("[\ud800-\udfff]", value):
        raise Bad
    return value


def _get(container: Any, key: str) -> Any:
    if not isinstance(container, dict) or key not in container:
        raise Bad
    return container[key]


def model_ultrachat(value: Any) -> dict[str, Any]:
    data = _get(value, "data")
    if not isinstance(data, list) or not data:
        raise Bad
    turns = [_text(turn) for turn in data]
    row_id = value.get("id")
    if row_id is not None:
        row_id = _text(row_id)  # a number is refused, as NaN is
    return {
        "id": row_id,
        "messages": [{"content": t, "role": ("user", "assistant")[i % 2]} for i, t in enumerate(turns)],
    }


def _rating(value: Any) -> float | None:
    if value == "N/A" and isinstance(value, str):
        return None
    if isinstance(value, str) and value in {"1", "2", "3", "4", "5"}:
        return float(value)
    if type(value) is int and 1 <= value <= 5:
        return float(value)
    raise Bad


def _score(value: Any) -> float | None:
    if value is None:
        return None
    if type(value) not in (int, float):
        raise Bad
    try:
        score = float(value)
    except OverflowError:
        raise Bad from None
    if not math.isfinite(score):
        raise Bad
    return score


def model_ultrafeedback(value: Any) -> dict[str, Any]:
    prompt = _text(_get(value, "instruction"))
    source = value.get("source")
    source = None if source is None else _text(source)
    completions = _get(value, "completions")
    if not isinstance(completions, list):
        raise Bad
    converted = []
    for completion in completions:
        entry = {"model": _text(_get(completion, "model")), "response": _text(_get(completion, "response"))}
        annotations = _get(completion, "annotations")
        for aspect in ASPECTS:
            entry[aspect] = _rating(_get(_get(annotations, aspect), "Rating"))
        entry["overall_score"] = _score(completion.get("overall_score"))
        converted.append(entry)
    return {"prompt": prompt, "source": source, "completions": converted}


_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def names_a_place(value: Any, field: str) -> bool:
    """Whether ``field`` (``data[2]``, ``completions[0].annotations.honesty.Rating``, ``(row)``) points into
    ``value``: every step but the last exists (the last may be what is missing)."""
    if field == "(row)":
        return not isinstance(value, dict)
    steps = [(name, index) for name, index in _STEP.findall(field)]
    for name, index in steps[:-1]:
        if name:
            if not isinstance(value, dict) or name not in value:
                return False
            value = value[name]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return False
            value = value[int(index)]
    return True


# --- files ---------------------------------------------------------------------------------------------------


BOM = b"\xef\xbb\xbf"


@dataclass
class Expected:
    """One row of the file: where it is, and the row it must give or the error it must raise."""

    location: str | None
    row: dict[str, Any] | None = None
    value: Any = None  # the parsed row, to check the field an error names
    reason: str | None = None  # a text the error must contain (None: a field problem)


LAYOUTS = st.fixed_dictionaries(
    {
        "format": st.sampled_from(["jsonl", "json"]),
        "compression": st.sampled_from(["", ".gz", ".bz2", ".xz", ".zst"]),
        "bom": st.booleans(),
        "newline": st.sampled_from(["\n", "\r\n"]),
        "final_newline": st.booleans(),
        "ascii": st.booleans(),
    }
)


def compress(data: bytes, compression: str) -> bytes:
    if compression == ".gz":
        return gzip.compress(data)
    if compression == ".bz2":
        return bz2.compress(data)
    if compression == ".xz":
        return lzma.compress(data)
    if compression == ".zst":
        half = len(data) // 2  # two frames: a reader must go on after the first
        return zstandard.compress(data[:half]) + zstandard.compress(data[half:])
    return data


def _dumps(value: Any, ascii_only: bool, indent: int | None = None) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode("utf-8", "surrogatepass")


def expect(model, text: bytes, location: str) -> Expected:
    """What the reader must make of one JSON text."""
    try:
        value = json.loads(text.decode("utf-8"))
    except UnicodeDecodeError:
        return Expected(location, reason="invalid UTF-8")
    try:
        return Expected(location, row=model(value), value=value)
    except Bad:
        return Expected(location, value=value)


def write_file(folder: Path, items: list, layout: dict, model) -> tuple[Path, list[Expected]]:
    """Write ``items`` (row values, or ``(raw line, reason)`` for JSON Lines) as one file; the expected outcome."""
    ascii_only, newline = layout["ascii"], layout["newline"].encode()
    if layout["format"] == "json":
        values = [item for item in items if not isinstance(item, tuple)]
        body = _dumps(values, ascii_only, indent=1).replace(b"\n", newline)
        try:
            body.decode("utf-8")
            expected = [expect(model, _dumps(v, True), f"row {i}") for i, v in enumerate(values, start=1)]
        except UnicodeDecodeError as exc:
            expected = [Expected(f"line {body.count(newline, 0, exc.start) + 1}", reason="invalid UTF-8")]
        if not values:
            expected = [Expected(None, reason="empty input")]
    else:
        lines, expected = [], []
        for item in items:
            if isinstance(item, tuple):
                line, reason = item
                lines.append(line)
                if len(lines) == 1 and not layout["bom"] and line.startswith(BOM):  # a BOM that starts the file
                    expected.append(expect(model, line[len(BOM) :], "line 1"))
                else:
                    expected.append(Expected(f"line {len(lines)}", reason=reason))
            else:
                lines.append(_dumps(item, ascii_only))
                expected.append(expect(model, lines[-1], f"line {len(lines)}"))
            if len(lines) % 3 == 0:
                lines.append(b"  ")  # a whitespace-only line: skipped, but counted
        body = newline.join(lines) + (newline if layout["final_newline"] else b"")
        if not items:
            expected = [Expected(None, reason="empty input")]
    data = (BOM if layout["bom"] else b"") + body
    path = folder / f"rows.{layout['format']}{layout['compression']}"
    path.write_bytes(compress(data, layout["compression"]))
    return path, expected


def read(source_class, path: Path, on_error: str) -> tuple[list[dict], list[dict], Any]:
    source = source_class([str(path)], on_error=on_error, batch_size=3)
    source.rejects = io.StringIO()
    rows = [row for table in source.batches() for row in table.to_pylist()]
    rejects = [json.loads(line) for line in source.rejects.getvalue().splitlines()]
    assert source.rows_read == len(rows) and source.rejected == len(rejects)
    return rows, rejects, source


def check_problem(expected: Expected, file: str, location: str | None, field: str | None, reason: str, path: Path):
    assert file == str(path)
    assert location == expected.location
    if expected.reason is not None:
        assert field is None and expected.reason in reason, reason
    else:
        assert field is not None and names_a_place(expected.value, field), (field, expected.value)


def check_source(source_class, model, items: list, layout: dict) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path, expected = write_file(Path(folder), items, layout, model)
        good = [e.row for e in expected if e.row is not None]
        bad = [e for e in expected if e.row is None]

        rows, rejects, _ = read(source_class, path, "skip")
        assert rows == good
        assert len(rejects) == len(bad)
        for entry, problem in zip(rejects, bad, strict=True):
            check_problem(problem, entry["file"], entry["location"], entry["field"], entry["reason"], path)

        if not bad:
            assert read(source_class, path, "fail")[0] == good
            return
        with pytest.raises(InputError) as caught:
            read(source_class, path, "fail")
        error = caught.value
        check_problem(bad[0], error.file, error.location, error.field, error.reason, path)
        assert str(path) in str(error) and (bad[0].location or "") in str(error)


ITEMS = st.lists(st.one_of(rows_of(ULTRACHAT_ROWS), RAW_LINES), max_size=6)


@given(items=ITEMS, layout=LAYOUTS)
def test_ultrachat_source_on_hostile_files(items, layout):
    check_source(UltraChatSource, model_ultrachat, items, layout)


@given(items=st.lists(st.one_of(rows_of(FEEDBACK_ROWS), RAW_LINES), max_size=5), layout=LAYOUTS)
def test_ultrafeedback_source_on_hostile_files(items, layout):
    check_source(UltraFeedbackSource, model_ultrafeedback, items, layout)


# --- pinned cases (each was a crash before) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        (b'{"id": "1", "data": ["fine", "a\\ud800b"]}', "data[1]", "lone surrogate \\ud800 at character 1"),
        (b'{"id": "\\udfff", "data": ["fine"]}', "id", "lone surrogate \\udfff"),
        (b'{"id": 1' + b"0" * 5000 + b', "data": ["a"]}', None, "invalid JSON: Exceeds the limit (4300 digits)"),
        (b"[" * 3000 + b"]" * 3000, None, "invalid JSON: nested too deeply"),
    ],
    ids=["surrogate-turn", "surrogate-id", "huge-integer", "deep-nesting"],
)
def test_lines_that_crashed_the_reader_are_located_errors(tmp_path, line, field, reason):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"data": ["ok"]}\n' + line + b"\n")
    with pytest.raises(InputError) as caught:
        read(UltraChatSource, path, "fail")
    assert (caught.value.file, caught.value.location, caught.value.field) == (str(path), "line 2", field)
    assert reason in caught.value.reason
    rows, rejects, _ = read(UltraChatSource, path, "skip")
    assert len(rows) == 1 and [r["location"] for r in rejects] == ["line 2"]


def test_surrogate_in_a_json_array_is_a_reject_that_can_be_written(tmp_path):
    # A .json row has no raw line: the reject repeats the parsed value, which must still be valid UTF-8 JSON.
    path = tmp_path / "rows.json"
    path.write_text('[{"data": ["ok"]}, {"data": ["\\ud800"], "note": "caf\u00e9"}]', encoding="utf-8")
    rows, rejects, _ = read(UltraChatSource, path, "skip")
    assert len(rows) == 1
    (reject,) = rejects
    assert (reject["location"], reject["field"]) == ("row 2", "data[0]")
    assert json.loads(reject["raw"]) == {"data": ["\ud800"], "note": "café"}
    reject_line = json.dumps(reject)
    reject_line.encode("utf-8")


@pytest.mark.parametrize("score", ["1" + "0" * 400, "1e999", "NaN", "-Infinity"])
def test_overall_score_out_of_float_range_is_a_field_error(tmp_path, score):
    # Regression: an integer too large for a float raised OverflowError.
    annotations = {aspect: {"Rating": "3"} for aspect in ASPECTS}
    completion = json.dumps({"model": "m", "response": "r", "annotations": annotations})
    line = '{"instruction": "q", "completions": [' + completion[:-1] + f', "overall_score": {score}}}]}}'
    path = tmp_path / "rows.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read(UltraFeedbackSource, path, "fail")
    assert caught.value.field == "completions[0].overall_score"
    assert "expected a finite number" in caught.value.reason and len(caught.value.reason) < 120


def test_parquet_text_that_is_not_utf8_names_its_row(tmp_path):
    # Regression: the whole batch failed to convert, with a traceback.
    import pyarrow as pa

    turns = pa.array([b"ok", b"fine", b"\xff", b"y"], pa.binary()).view(pa.string())  # Parquet does not check
    data = pa.ListArray.from_arrays(pa.array([0, 2, 4], pa.int32()), turns)
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"id": ["1", "2"], "data": data}), path)
    with pytest.raises(InputError) as caught:
        read(UltraChatSource, path, "fail")
    assert (caught.value.location, caught.value.field) == ("row 2", None) and "not UTF-8" in caught.value.reason
    rows, rejects, _ = read(UltraChatSource, path, "skip")
    assert [row["id"] for row in rows] == ["1"] and [r["location"] for r in rejects] == ["row 2"]


def test_file_name_that_is_not_utf8(tmp_path):
    # Regression: provenance.json could not be written (UnicodeEncodeError) for such a name.
    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9.jsonl")  # Latin-1 bytes: Python keeps the byte as a lone surrogate
    (folder / name).write_text('{"data": ["How do plants make food?", "Photosynthesis."]}\nnot json\n')
    output = tmp_path / "out"
    code, text = invoke("ultrachat", "-i", folder, "-o", output, "--on-error", "skip")
    assert code == 0, text
    shown = f"{folder}/caf\\xe9.jsonl"
    assert json.loads((output / "rejects.jsonl").read_text(encoding="utf-8"))["file"] == shown
    assert json.loads((output / "provenance.json").read_text(encoding="utf-8"))["inputs"][0]["path"] == shown


def test_ten_megabyte_turn_and_ten_thousand_turn_dialogue(tmp_path):
    big = "Data moves. " * 873_814  # over 10 MiB
    turns = [f"turn {i}" for i in range(10_000)]
    path = tmp_path / "rows.jsonl.gz"
    lines = [{"id": "big", "data": [big, "ok"]}, {"id": "long", "data": turns}]
    path.write_bytes(gzip.compress("".join(json.dumps(row) + "\n" for row in lines).encode()))
    rows, rejects, _ = read(UltraChatSource, path, "fail")
    assert rejects == []
    assert rows[0]["messages"][0]["content"] == big and len(big) >= 10 * 2**20
    assert [turn["content"] for turn in rows[1]["messages"]] == turns
    assert rows[1]["messages"][-1]["role"] == "assistant"


# --- the CLI, both commands, both error modes -------------------------------------------------------------------

GOOD_TURNS = [
    ["How do plants make food?", "Through photosynthesis."],
    ["\u202eמה שלומך? \u200fאני בסדר", "تمام، شكرا\u0651"],
    ["Combining: cafe\u0301 and 👩‍👩‍👧‍👦?", "Nice emoji 🙂."],
    ["Tabs\tand NUL\x00inside", "   "],
    ["windows line", "ending"],
]
ULTRACHAT_LINES: list[tuple[bytes, str | None]] = [
    (b"\xef\xbb\xbf" + json.dumps({"id": "0", "data": GOOD_TURNS[0]}).encode() + b"\r\n", None),
    (json.dumps({"id": "1", "data": GOOD_TURNS[1]}, ensure_ascii=False).encode() + b"\n", None),
    (json.dumps({"id": "2", "data": ["q", 7]}).encode() + b"\n", "data[1]"),
    (json.dumps({"id": "3", "data": GOOD_TURNS[2], "extra": {"x": [1, None]}}).encode() + b"\n", None),
    (b'{"id": "4", "data": ["bad \\ud83d", "x"]}\n', "data[0]"),
    (json.dumps({"id": "5", "data": GOOD_TURNS[3]}).encode() + b"\n", None),
    (b'{"id": "6", "data": ["\xff"]}\n', "(invalid UTF-8)"),
    (json.dumps({"id": 7.5, "data": ["a", "b"]}).encode() + b"\n", "id"),
    (json.dumps({"id": "8", "data": "not a list"}).encode() + b"\n", "data"),
    (json.dumps({"id": "9", "data": GOOD_TURNS[4]}).encode() + b"\r\n", None),
    (json.dumps({"id": "10", "turns": ["a"]}).encode() + b"\n", "data"),
    (json.dumps({"id": "11", "data": ["last", "line has no newline"]}).encode(), None),
]


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*map(str, args), "--no-progress", "--num-proc", "1"])
    return result.exit_code, result.output


def split_rows(output: Path, splits: tuple[str, ...]) -> list[dict]:
    return [
        row
        for split in splits
        for f in sorted(output.glob(f"data/{split}-*.parquet"))
        for row in pq.read_table(f).to_pylist()
    ]


@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_ultrachat_cli_on_a_hostile_file(tmp_path, on_error):
    from distill_data.processors import FixText, truecase

    source = tmp_path / "hostile.jsonl"
    source.write_bytes(b"".join(line for line, _ in ULTRACHAT_LINES))
    output = tmp_path / "out"
    code, text = invoke("ultrachat", "-i", source, "-o", output, "--on-error", on_error)
    flat = " ".join(text.split())
    if on_error == "fail":
        assert code == 1, text
        assert f"{source}, line 3: field 'data[1]': turn is not a string (got int)" in flat
        assert "Traceback" not in text
        assert not output.exists() and not list(tmp_path.glob(".out.*"))
        return
    assert code == 0, text
    rejects = [json.loads(line) for line in (output / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    bad = [(f"line {n}", field) for n, (_, field) in enumerate(ULTRACHAT_LINES, start=1) if field is not None]
    assert [(r["location"], r["field"] or "(invalid UTF-8)") for r in rejects] == bad
    assert all(r["file"] == str(source) for r in rejects)
    fixer = FixText()
    expected = [[truecase(fixer.fix(turn)) for turn in conv] for conv in [*GOOD_TURNS, ["last", "line has no newline"]]]
    rows = split_rows(output, ("train_sft", "test_sft"))
    assert sorted(([t["content"] for t in row["messages"]] for row in rows), key=str) == sorted(expected, key=str)
    assert not any("\x00" in turn for conv in expected for turn in conv)  # fix_text removes control characters


def test_binarize_cli_reads_compressed_folders_and_sets_bad_rows_aside(tmp_path):
    def row(prompt: str, ratings: tuple[str, str], **extra: Any) -> dict:
        completions = [
            {
                "model": f"m{i}",
                "response": f"answer {i} to {prompt}",
                "annotations": {a: {"Rating": r} for a in ASPECTS},
            }
            for i, r in enumerate(ratings)
        ]
        return {"instruction": prompt, "source": "evol", "completions": completions, **extra}

    folder = tmp_path / "in"
    folder.mkdir()
    good = [row("Why is the sky blue? \u202e", ("5", "2")), row("Zerlege: e\u0301 👩‍👩‍👧", ("1", "4"))]
    bad_rating = row("bad", ("6", "1"))
    text = json.dumps(good[0]) + "\r\n" + json.dumps(bad_rating) + "\n"
    (folder / "a.jsonl.gz").write_bytes(gzip.compress(text.encode()))
    (folder / "b.json.zst").write_bytes(zstandard.compress(json.dumps([good[1], {"instruction": 5}]).encode()))
    (folder / "notes.txt.gz").write_bytes(gzip.compress(b"not data"))
    output = tmp_path / "out"
    code, out = invoke("binarize", "-i", folder, "-o", output, "--on-error", "skip", "--test-size", "0")
    assert code == 0, out
    rejects = [json.loads(line) for line in (output / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(Path(r["file"]).name, r["location"], r["field"]) for r in rejects] == [
        ("a.jsonl.gz", "line 2", "completions[0].annotations.helpfulness.Rating"),
        ("b.json.zst", "row 2", "instruction"),
    ]
    pairs = {r["prompt"]: r for r in split_rows(output, ("train_prefs",))}
    assert set(pairs) == {g["instruction"] for g in good}
    assert pairs[good[0]["instruction"]]["chosen"][1]["content"] == good[0]["completions"][0]["response"]
    assert pairs[good[1]["instruction"]]["chosen"][1]["content"] == good[1]["completions"][1]["response"]

    code, out = invoke("binarize", "-i", folder, "-o", tmp_path / "out2", "--test-size", "0")
    assert code == 1 and "a.jsonl.gz, line 2: field 'completions[0].annotations.helpfulness.Rating'" in " ".join(
        out.split()
    )
    assert "Traceback" not in out
