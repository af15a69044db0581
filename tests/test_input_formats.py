"""The input format registry: a new format is one registered class, and every reader of inputs reads it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path, PurePath

import pytest

from distill_data.errors import InputError
from distill_data.processors.decontaminate import load_benchmark
from distill_data.sources import formats
from distill_data.sources.files import InputFile
from distill_data.sources.formats import FileFormat, format_of, register, stem, supported_types
from distill_data.sources.inputs import read_records, resolve_inputs
from distill_data.sources.records import RawRecord


class Tsv(FileFormat):
    """Tab-separated rows under a header line; every value a string. (The example of CONTRIBUTING.md.)"""

    suffix = ".tsv"

    def records(self, file: InputFile, batch_rows: int) -> Iterator[RawRecord]:
        with file.open_binary() as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
            rows = csv.DictReader(text, delimiter="\t")
            for row in rows:
                yield RawRecord(file.label, f"line {rows.line_num}", value=row)


@pytest.fixture
def tsv() -> Iterator[None]:
    before = dict(formats.FORMATS)
    register(Tsv())
    yield
    formats.FORMATS.clear()
    formats.FORMATS.update(before)


def test_the_built_in_formats_and_their_message() -> None:
    assert list(formats.FORMATS) == [".jsonl", ".json", ".parquet"]
    assert supported_types() == ".jsonl, .json, .parquet (JSON also compressed: .gz, .bz2, .xz, .zst)"
    assert format_of(PurePath("a.jsonl.zst")) is formats.FORMATS[".jsonl"]
    assert format_of(PurePath("a.parquet.gz")) is None and format_of(PurePath("a.tsv")) is None
    assert [stem(PurePath(n)) for n in ("a.jsonl.gz", "b.parquet", "c.d.json")] == ["a", "b", "c.d"]


def test_a_registered_format_is_read_through_the_resolver(tsv: None, tmp_path: Path) -> None:
    (tmp_path / "bench.tsv").write_text("prompt\tsource\nWhat is 2+2?\tmath\nName a colour.\tart\n", encoding="utf-8")
    (tmp_path / "skip.txt").write_text("not data\n", encoding="utf-8")
    (ref,) = resolve_inputs([str(tmp_path)])  # the folder's supported files: the .tsv, not the .txt
    records = list(read_records(ref))
    assert [(r.location, r.value) for r in records] == [
        ("line 2", {"prompt": "What is 2+2?", "source": "math"}),
        ("line 3", {"prompt": "Name a colour.", "source": "art"}),
    ]
    assert ".tsv" in supported_types()
    assert load_benchmark(str(tmp_path / "bench.tsv")) == ("bench", ["What is 2+2?", "Name a colour."])


def test_an_unregistered_suffix_is_refused_with_the_registry_list(tmp_path: Path) -> None:
    (tmp_path / "rows.tsv").write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"unsupported file type '\.tsv'; expected \.jsonl, \.json, \.parquet \("):
        resolve_inputs([str(tmp_path / "rows.tsv")])
