"""Compressed inputs (.gz, .bz2, .xz, .zst): read like the plain file, streamed, found in folders and globs, and
a damaged or truncated file is a located error, never a silently shorter input."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import random
import tempfile
import tracemalloc
from pathlib import Path

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from distill_data.errors import InputError
from distill_data.sources import UltraChatSource, read_records, resolve_inputs
from distill_data.sources.compressed import open_binary, zstd_framing_problem
from distill_data.sources.inputs import LocalFile, estimate_rows

ROWS = [{"id": str(i), "data": [f"Question {i}: café, שלום, 🙂?", f"Answer {i}."]} for i in range(40)]
COMPRESSORS = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": lambda data: zstandard.compress(data[:1000]) + zstandard.compress(data[1000:]),  # two frames
}


def encode(rows: list[dict], kind: str) -> bytes:
    if kind == ".json":
        return json.dumps(rows, ensure_ascii=False, indent=1).encode()
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def read_all(path: Path, on_error: str = "fail") -> tuple[list[dict], int]:
    source = UltraChatSource([str(path)], on_error=on_error, batch_size=7)
    rows = [row for table in source.batches() for row in table.to_pylist()]
    return rows, source.rejected


@pytest.mark.parametrize("kind", [".jsonl", ".json"])
@pytest.mark.parametrize("compression", list(COMPRESSORS))
def test_compressed_file_reads_like_the_plain_one(tmp_path, kind, compression):
    plain = tmp_path / f"rows{kind}"
    plain.write_bytes(encode(ROWS, kind))
    packed = tmp_path / f"rows{kind}{compression}"
    packed.write_bytes(COMPRESSORS[compression](plain.read_bytes()))
    assert read_all(packed) == read_all(plain) and len(read_all(plain)[0]) == len(ROWS)
    expected = len(ROWS) if kind == ".jsonl" else None
    assert estimate_rows([LocalFile(packed)]) == estimate_rows([LocalFile(plain)]) == expected
    assert [record.location for record in read_records(LocalFile(packed))][-1] == (
        f"line {len(ROWS)}" if kind == ".jsonl" else f"row {len(ROWS)}"
    )


def test_folders_and_globs_pick_up_compressed_files(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    names = ["a.jsonl.gz", "b.jsonl.zst", "c.json.bz2", "d.jsonl.xz", "e.jsonl", ".hidden.jsonl.gz", "notes.txt.gz"]
    for name in names:
        (folder / name).write_bytes(b"")
    (folder / "f.parquet.gz").write_bytes(b"")
    found = [ref.path.name for ref in resolve_inputs([str(folder)])]
    assert found == ["a.jsonl.gz", "b.jsonl.zst", "c.json.bz2", "d.jsonl.xz", "e.jsonl"]
    assert [ref.path.name for ref in resolve_inputs([str(folder / "*.jsonl.*")])] == [
        "a.jsonl.gz",
        "b.jsonl.zst",
        "d.jsonl.xz",
    ]


def test_a_folder_inside_a_hidden_folder_is_read(tmp_path):
    # Regression: files were skipped when any folder above them was hidden (~/.cache/...), not only inside.
    folder = tmp_path / ".cache" / "ultrachat"
    folder.mkdir(parents=True)
    (folder / "rows.jsonl.gz").write_bytes(gzip.compress(encode(ROWS, ".jsonl")))
    (folder / ".partial").mkdir()
    (folder / ".partial" / "skip.jsonl").write_bytes(b"")
    assert [ref.path.name for ref in resolve_inputs([str(folder)])] == ["rows.jsonl.gz"]


@pytest.mark.parametrize(
    ("name", "shown"),
    [("rows.parquet.gz", "'.parquet.gz'"), ("rows.gz", "'.gz'"), ("rows.csv.zst", "'.csv.zst'")],
)
def test_unsupported_compressed_files_are_named(tmp_path, name, shown):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(InputError) as caught:
        resolve_inputs([str(path)])
    assert caught.value.file == str(path)
    assert f"unsupported file type {shown}" in caught.value.reason and ".jsonl" in caught.value.reason


def _truncated(compression: str) -> bytes:
    return COMPRESSORS[compression](encode(ROWS, ".jsonl"))[:-40]


DAMAGED = {
    "gz-truncated": (".gz", lambda: _truncated(".gz"), "not readable as gzip"),
    "bz2-truncated": (".bz2", lambda: _truncated(".bz2"), "not readable as bzip2"),
    "xz-truncated": (".xz", lambda: _truncated(".xz"), "not readable as xz"),
    "zst-truncated": (".zst", lambda: _truncated(".zst"), "zstd file ended before the end of its last frame"),
    "gz-not-gzip": (".gz", lambda: b"this is not gzip data at all\n", "not readable as gzip"),
    "zst-not-zstd": (".zst", lambda: b"this is not zstd data at all\n", "not readable as zstd"),
    "zst-garbage-after": (".zst", lambda: zstandard.compress(encode(ROWS[:3], ".jsonl")) + b"junk", "zstd"),
    "gz-garbage-after": (".gz", lambda: gzip.compress(encode(ROWS[:3], ".jsonl")) + b"junk", "not readable as gzip"),
}
# (Python's bz2 and lzma readers skip bytes after the last stream that are not a stream: so does distill-data.)


@pytest.mark.parametrize("case", list(DAMAGED))
def test_damaged_compressed_file_is_a_located_error(tmp_path, case):
    compression, make, reason = DAMAGED[case]
    path = tmp_path / f"rows.jsonl{compression}"
    path.write_bytes(make())
    with pytest.raises(InputError) as caught:
        read_all(path)
    assert caught.value.file == str(path) and caught.value.location.startswith("line ")
    assert reason in caught.value.reason
    # With --on-error skip the rows before the damage are kept, the damage is one reject, and no row is cut short.
    rows, rejected = read_all(path, on_error="skip")
    assert rejected == 1
    assert [row["id"] for row in rows] == [row["id"] for row in ROWS[: len(rows)]]
    assert all(row["messages"][1]["content"] == f"Answer {row['id']}." for row in rows)
    assert caught.value.location == f"line {len(rows) + 1}"
    assert estimate_rows([LocalFile(path)]) in (None, *range(len(ROWS) + 1))


def test_damaged_json_array_names_the_file(tmp_path):
    path = tmp_path / "rows.json.gz"
    path.write_bytes(gzip.compress(encode(ROWS, ".json"))[:-30])
    with pytest.raises(InputError) as caught:
        read_all(path)
    assert caught.value.file == str(path) and "not readable as gzip" in caught.value.reason


def test_invalid_utf8_in_a_json_array_after_a_bom_names_its_line(tmp_path):
    # Regression: the line was counted from the byte offset of the text after the BOM, in the bytes before it.
    path = tmp_path / "rows.json"
    path.write_bytes(b'\xef\xbb\xbf[\n"\xff"]')
    with pytest.raises(InputError) as caught:
        read_all(path)
    assert (caught.value.location, caught.value.reason) == ("line 2", "invalid UTF-8 at byte 3")


@pytest.mark.parametrize("compression", [".gz", ".zst"])
def test_reading_is_streamed_not_decompressed_in_full(tmp_path, compression):
    line = json.dumps({"id": "x", "data": [os.urandom(3000).hex(), "ok"]}).encode() + b"\n"
    data = line * 4000  # 24 MB once decompressed
    path = tmp_path / f"rows.jsonl{compression}"
    path.write_bytes(gzip.compress(data, 1) if compression == ".gz" else zstandard.compress(data, 1))
    tracemalloc.start()
    try:
        records = read_records(LocalFile(path))
        first = [next(records) for _ in range(20)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [record.location for record in first] == [f"line {n}" for n in range(1, 21)]
    assert peak < 4 * 2**20, f"{peak:,} bytes held to read 20 lines of a {len(data):,}-byte file"


FRAME_CONTENT = st.one_of(
    st.binary(max_size=2000),
    st.integers(1, 300_000).map(lambda n: b"a" * n),  # RLE blocks, several 128 KiB blocks
    st.integers(1, 200_000).map(lambda n: random.Random(n).randbytes(n)),  # raw (incompressible) blocks
    st.integers(1, 50).map(lambda n: b"".join(json.dumps(row).encode() + b"\n" for row in ROWS) * n),
)
FRAMES = st.lists(
    st.tuples(FRAME_CONTENT, st.integers(1, 5), st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=3
)


def _frame(content: bytes, level: int, checksum: bool, content_size: bool, skippable: bool) -> bytes:
    if skippable:
        return (0x184D2A53).to_bytes(4, "little") + len(content[:50]).to_bytes(4, "little") + content[:50]
    options = {"write_checksum": checksum, "write_content_size": content_size}
    return zstandard.ZstdCompressor(level=level, **options).compress(content)


@given(FRAMES, st.data())
def test_zstd_framing_check_accepts_whole_frames_and_finds_every_cut(frames, data):
    encoded = [_frame(*frame) for frame in frames]
    whole = b"".join(encoded)
    assert zstd_framing_problem(io.BytesIO(whole)) is None
    boundaries = {sum(len(e) for e in encoded[:i]) for i in range(len(encoded) + 1)}
    for cut in data.draw(st.lists(st.integers(1, len(whole) - 1), max_size=5)) if len(whole) > 1 else []:
        problem = zstd_framing_problem(io.BytesIO(whole[:cut]))
        assert (problem is None) == (cut in boundaries), (cut, problem)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.jsonl.zst"
        path.write_bytes(whole)
        with open_binary(path) as handle:
            assert handle.read() == b"".join(frame[0] for frame in frames if not frame[4])
