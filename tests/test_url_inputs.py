"""Inputs at URLs (fsspec): ``memory://`` and a local HTTP server give the same outputs as the same files on disk.

``ultrachat``, ``binarize``, ``check`` and ``--decontaminate`` benchmarks read JSON Lines, gzip JSON Lines and
Parquet from URLs; the data files they write are byte for byte those of a local run. A missing URL and a bad line
in a URL file are one line naming the URL (and the line).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import BUNDLED_SAMPLE, REPO

from distill_data.cli import cli
from distill_data.errors import InputError
from distill_data.output_folder import check_output
from distill_data.sources.inputs import RemoteFile, estimate_rows, read_records, resolve_inputs

FEEDBACK_SAMPLE = REPO / "distill_data" / "samples" / "ultrafeedback_sample.jsonl"
FORMATS = ("jsonl", "jsonl.gz", "parquet")
MEMORY_ROOT = "/url-inputs-test"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(folder: Path, name: str, rows: list[dict]) -> None:
    """``name``.jsonl, .jsonl.gz and .parquet holding ``rows``."""
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    (folder / f"{name}.jsonl").write_bytes(text)
    (folder / f"{name}.jsonl.gz").write_bytes(gzip.compress(text, mtime=0))
    pq.write_table(pa.Table.from_pylist(rows), folder / f"{name}.parquet")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served folder: the bundled samples, a benchmark of some of their prompts, a bad file, an output."""
    folder = tmp_path_factory.mktemp("served")
    chat = _rows(BUNDLED_SAMPLE)
    _write(folder, "chat", chat)
    _write(folder, "feedback", _rows(FEEDBACK_SAMPLE))
    _write(folder, "bench", [{"prompt": row["data"][0]} for row in chat[:40:3]])
    (folder / "bad.jsonl").write_text('{"id": "a", "data": ["q", "a"]}\n\n{"id": oops}\n', encoding="utf-8")
    code, output = invoke("ultrachat", "-i", BUNDLED_SAMPLE, "-o", folder / "built", "--test-size", "20")
    assert code == 0, output
    return folder


@pytest.fixture(scope="module")
def http_base(files: Path) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` serving ``files`` (a free port, closed after the module)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(files)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def memory_base(files: Path) -> Iterator[str]:
    """``memory://...`` holding a copy of ``files``."""
    fs = fsspec.filesystem("memory")
    for path in files.rglob("*"):
        if path.is_file():
            fs.pipe(f"{MEMORY_ROOT}/{path.relative_to(files).as_posix()}", path.read_bytes())
    yield f"memory://{MEMORY_ROOT}"
    fs.rm(MEMORY_ROOT, recursive=True)


@pytest.fixture(params=["http", "memory"])
def base(request: pytest.FixtureRequest, http_base: str, memory_base: str) -> str:
    return http_base if request.param == "http" else memory_base


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def data_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "data").iterdir())}


@pytest.mark.parametrize("suffix", FORMATS)
def test_ultrachat_from_a_url_writes_the_local_bytes(files: Path, base: str, suffix: str, tmp_path: Path) -> None:
    outputs = {}
    for where, source in (("local", files / f"chat.{suffix}"), ("url", f"{base}/chat.{suffix}")):
        code, output = invoke("ultrachat", "-i", source, "-o", tmp_path / where, "--test-size", "20", "--no-progress")
        assert code == 0, output
        outputs[where] = data_bytes(tmp_path / where)
    assert outputs["url"] == outputs["local"]
    inputs = json.loads((tmp_path / "url" / "provenance.json").read_text(encoding="utf-8"))["inputs"]
    assert inputs[0]["url"] == f"{base}/chat.{suffix}"
    assert inputs[0]["bytes"] == (files / f"chat.{suffix}").stat().st_size


@pytest.mark.parametrize("suffix", FORMATS)
def test_binarize_from_a_url_writes_the_local_bytes(files: Path, base: str, suffix: str, tmp_path: Path) -> None:
    outputs = {}
    for where, source in (("local", files / f"feedback.{suffix}"), ("url", f"{base}/feedback.{suffix}")):
        code, output = invoke("binarize", "-i", source, "-o", tmp_path / where, "--test-size", "20", "--no-progress")
        assert code == 0, output
        outputs[where] = data_bytes(tmp_path / where)
    assert outputs["url"] == outputs["local"]


@pytest.mark.parametrize("suffix", FORMATS)
def test_benchmarks_at_urls_decontaminate_as_local_ones(files: Path, base: str, suffix: str, tmp_path: Path) -> None:
    outputs = {}
    for where, bench in (("local", files / f"bench.{suffix}"), ("url", f"{base}/bench.{suffix}")):
        out = tmp_path / where
        args = ("-i", BUNDLED_SAMPLE, "-o", out, "--test-size", "20", "--no-progress", "--decontaminate", bench)
        code, output = invoke("ultrachat", *args)
        assert code == 0, output
        outputs[where] = data_bytes(out)
    assert outputs["url"] == outputs["local"]
    unfiltered = data_bytes(files / "built")
    assert outputs["url"] != unfiltered  # the benchmark's prompts were dropped


def test_check_reads_an_output_folder_and_files_at_urls(files: Path, base: str) -> None:
    from distill_data.check.data import load_splits

    local = {split.name: split.table for split in load_splits(files / "built")}
    remote = {split.name: split.table for split in load_splits(f"{base}/built")}
    assert set(remote) == set(local) and all(remote[name].equals(local[name]) for name in local)
    one = load_splits(f"{base}/built/data/train_sft-00000-of-00001.parquet")
    assert [split.name for split in one] == ["train_sft"] and one[0].table.equals(local["train_sft"])


def test_check_report_from_a_url_is_the_local_one(files: Path, http_base: str, tmp_path: Path) -> None:
    from test_check import make_tokenizer

    from distill_data.train.chat_template import ZEPHYR

    tokenizer = make_tokenizer(tmp_path / "tokenizer", ZEPHYR)
    reports = {}
    for where, source in (("local", files / "built"), ("url", f"{http_base}/built")):
        report = tmp_path / f"{where}.json"
        argv = ["check", str(source), "--tokenizer", str(tokenizer), "--no-progress", "--json", str(report)]
        result = CliRunner().invoke(cli, argv)
        assert result.exit_code in (0, 1), result.output
        reports[where] = report.read_text(encoding="utf-8").replace(str(source), "SOURCE")
    assert reports["url"] == reports["local"]


def test_a_missing_url_is_one_line_naming_it(base: str, tmp_path: Path) -> None:
    url = f"{base}/nowhere/chat.jsonl"
    code, output = invoke("ultrachat", "-i", url, "-o", tmp_path / "out", "--no-progress")
    assert code != 0
    assert output.strip().splitlines() == [f"error: {url}: no such file or folder"]
    code, output = invoke("ultrachat", "-i", BUNDLED_SAMPLE, "-o", tmp_path / "o2", "--decontaminate", url)
    assert code != 0 and f"{url}: no such file or folder" in output and len(output.strip().splitlines()) == 1


def test_a_bad_line_at_a_url_names_the_url_and_line(base: str, tmp_path: Path) -> None:
    url = f"{base}/bad.jsonl"
    code, output = invoke("ultrachat", "-i", url, "-o", tmp_path / "out", "--no-progress")
    assert code != 0
    assert output.strip().splitlines() == [f"error: {url}, line 3: invalid JSON: Expecting value at column 8"]


def test_folders_and_globs_at_urls(memory_base: str) -> None:
    chat = [ref.url for ref in resolve_inputs([f"{memory_base}/chat.*"])]
    fsspec.filesystem("memory").pipe(f"{MEMORY_ROOT}/.hidden/chat.jsonl", b'{"id": "x", "data": ["q", "a"]}\n')
    assert [ref.url for ref in resolve_inputs([f"{memory_base}/**/chat.jsonl"])] == [f"{memory_base}/chat.jsonl"]
    assert chat == [f"{memory_base}/chat.{suffix}" for suffix in ("jsonl", "jsonl.gz", "parquet")]
    folder = [ref.url for ref in resolve_inputs([f"{memory_base}/built"])]
    assert folder == [f"{memory_base}/built/data/{name}" for name in sorted(data_bytes_names())]
    fsspec.filesystem("memory").pipe(f"{MEMORY_ROOT}/page.html", b"<p>")
    with pytest.raises(InputError, match=r"page\.html: unsupported file type '\.html'; expected \.jsonl, "):
        resolve_inputs([f"{memory_base}/page.html"])


def data_bytes_names() -> list[str]:
    fs = fsspec.filesystem("memory")
    return [Path(p).name for p in fs.ls(f"{MEMORY_ROOT}/built/data", detail=False)]


def test_url_records_provenance_and_row_estimates(files: Path, memory_base: str) -> None:
    url = f"{memory_base}/chat.parquet"
    (ref,) = resolve_inputs([url])
    assert isinstance(ref, RemoteFile)
    records = list(read_records(ref))
    assert records[0].file == url and records[0].location == "row 1"
    assert estimate_rows([ref]) == len(records) == len(_rows(BUNDLED_SAMPLE))
    assert estimate_rows(resolve_inputs([f"{memory_base}/chat.jsonl"])) is None  # counting lines would download it
    described = ref.describe()
    assert described["url"] == described["path"] == url
    assert described["bytes"] == (files / "chat.parquet").stat().st_size
    assert described["sha256"] == hashlib.sha256((files / "chat.parquet").read_bytes()).hexdigest()


def test_a_url_input_is_never_inside_a_local_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("memory:", "https:"):
        assert check_output(tmp_path / name, overwrite=False, inputs=[f"{name}//host/x/*.jsonl"]) == tmp_path / name


def test_an_hf_url_reads_a_hub_file_as_the_local_one(tmp_path: Path) -> None:
    """``hf://datasets/owner/name/path`` through fsspec (huggingface_hub's HfFileSystem), against the local Hub."""
    import os
    import subprocess
    import sys

    from hub_server import serve

    root = tmp_path / "hub"
    local = root / "tester" / "chat" / "data" / "train.jsonl"
    local.parent.mkdir(parents=True)
    local.write_bytes(BUNDLED_SAMPLE.read_bytes())
    server, url, _ = serve(root)
    env = dict(os.environ, HF_ENDPOINT=url, HF_HUB_DISABLE_XET="1", HF_HOME=str(tmp_path / "hf_home"))
    env.pop("HF_TOKEN", None)
    try:
        for where, source in (("local", str(local)), ("url", "hf://datasets/tester/chat/data/train.jsonl")):
            command = [sys.executable, "-m", "distill_data.cli", "ultrachat", "-i", source, "-o", str(tmp_path / where)]
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, result.stderr
    finally:
        server.shutdown()
    assert data_bytes(tmp_path / "url") == data_bytes(tmp_path / "local")
    (entry,) = json.loads((tmp_path / "url" / "provenance.json").read_text(encoding="utf-8"))["inputs"]
    assert entry["url"] == "hf://datasets/tester/chat/data/train.jsonl"
    assert entry["sha256"] == hashlib.sha256(local.read_bytes()).hexdigest()
