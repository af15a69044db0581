"""What an ``--input`` names: a folder without the toolkit's own outputs in it, a path (never sent to the Hub when
it looks like one), a Hub id that fails in seconds when the Hub cannot be reached; and the plain input errors
(a symlink loop, a JSON error, an ``id`` that is not a string) said once and right."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import BUNDLED_SAMPLE, REPO, write_jsonl

from distill_data.check.data import load_splits
from distill_data.cli import cli
from distill_data.errors import ConfigError, InputError
from distill_data.sources.inputs import LocalFile, resolve_inputs

GOOD = {"id": "1", "data": ["How do plants make food?", "Through photosynthesis, using light."]}
# The Hub client retries a failed connection for 1 + 2 + 4 + 8 + 8 = 23 s before it gives up: a failure that comes
# well before that did not wait on retries, even on a slow machine.
FAST = 15.0


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*map(str, args), "--no-progress"])
    return result.exit_code, result.output


def cli_process(tmp_path: Path, env: dict[str, str], *args: str | Path) -> tuple[subprocess.CompletedProcess, float]:
    """The CLI in a fresh process (huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE when imported), and how
    long it ran."""
    environment = dict(os.environ, HF_HOME=str(tmp_path / "hf_home"), HF_HUB_DISABLE_TELEMETRY="1", **env)
    for name in ("HF_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT"):
        if name not in env:
            environment.pop(name, None)
    environment["NO_PROXY"] = environment["no_proxy"] = "127.0.0.1,localhost"
    started = time.monotonic()
    command = [sys.executable, "-m", "distill_data.cli", *map(str, args)]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    return result, time.monotonic() - started


def closed_port_endpoint() -> str:
    """A local URL where nothing listens: every connection is refused, as with no network."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def data_files(refs: list) -> list[str]:
    return [ref.path.name for ref in refs if isinstance(ref, LocalFile)]


def fake_output(folder: Path, *, data: bool = True) -> Path:
    """A folder laid out as an output of this toolkit, with every file that is not a row of its data."""
    (folder / "assets").mkdir(parents=True)
    (folder / "provenance.json").write_text("{}", encoding="utf-8")
    (folder / "assets" / "plot_data.json").write_text('{"turns": [1, 2]}', encoding="utf-8")
    write_jsonl(folder / "rejects.jsonl", [{"file": "x", "location": "line 1", "reason": "bad", "raw": "{"}])
    write_jsonl(folder / "arrow" / "train_sft" / "state.json", [{"_fingerprint": "f"}])
    if data:
        write_jsonl(folder / "data" / "train_sft.jsonl", [GOOD])
    return folder


# --- a folder input and the toolkit's own outputs, staging folders and caches in it ---


def test_a_folder_input_holding_its_output_can_be_run_again(tmp_path: Path) -> None:
    """``--input k2 --output k2/out --overwrite`` twice: the second run reads the input, not the first output."""
    folder = tmp_path / "k2"
    folder.mkdir()
    (folder / "chat.jsonl").write_bytes(BUNDLED_SAMPLE.read_bytes())
    output = folder / "out"
    code, text = invoke("ultrachat", "--input", folder, "--output", output)
    assert code == 0, text
    first = {p.name: p.read_bytes() for p in (output / "data").iterdir()}
    code, text = invoke("ultrachat", "--input", folder, "--output", output, "--overwrite")
    assert code == 0, text
    assert {p.name: p.read_bytes() for p in (output / "data").iterdir()} == first
    provenance = json.loads((output / "provenance.json").read_text(encoding="utf-8"))
    assert [entry["path"] for entry in provenance["inputs"]] == [str(folder / "chat.jsonl")]


def test_outputs_staging_folders_and_caches_inside_a_folder_are_not_read(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    write_jsonl(folder / "raw" / "chat.jsonl", [GOOD])
    fake_output(folder / "out")
    fake_output(folder / "raw" / "nested_output")
    for staging in (".out.partial", ".out.tmp-1a2b3c4d", ".out.old-5e6f7a8b"):  # work folders of runs
        write_jsonl(folder / staging / "rejects.jsonl", [{"reason": "bad"}])
        write_jsonl(folder / staging / "data" / "train_sft.jsonl", [GOOD])
    (folder / "out.cache").mkdir()  # the request cache of a feedback run
    (folder / "out.cache" / "requests.sqlite").write_bytes(b"")
    write_jsonl(folder / "out.cache" / "stray.jsonl", [GOOD])
    assert data_files(resolve_inputs([str(folder)])) == ["chat.jsonl"]

    # An output named as the input is read: its data/, not its provenance.json, assets/, arrow/ or rejects.jsonl.
    assert data_files(resolve_inputs([str(folder / "out")])) == ["train_sft.jsonl"]
    with pytest.raises(InputError, match=r"an output of distill-data with no \.jsonl, \.json, \.parquet"):
        resolve_inputs([str(fake_output(tmp_path / "empty_output", data=False))])
    # A folder of outputs only says why it has nothing to read.
    only_outputs = tmp_path / "only_outputs"
    fake_output(only_outputs / "a")
    with pytest.raises(InputError, match=r"outputs of distill-data inside it are not read: a; name their data/"):
        resolve_inputs([str(only_outputs)])


# --- a path is a path: never a Hub id ---


def test_hub_ids_and_paths_are_told_apart() -> None:
    from distill_data.sources.hub_ids import looks_like_hub_id

    for spec in ("HuggingFaceH4/ultrachat_200k", "stingning/ultrachat:train", "org/data.v2", "a-b/c_d"):
        assert looks_like_hub_id(spec), spec
    paths = (
        "samples/ultrachat_sample.jsonl",
        "data/chat.json",
        "org/train.parquet",
        "org/chat.jsonl.gz",
        "org/bench.csv",
        "./org/data",
        "../org/data",
        "/org/data",
        "~/data",
        "~org/data",
        "runs/k2/out",
        "org/",
        "/data",
        "data",
        "org/.hidden",
        "",
    )
    for spec in paths:
        assert not looks_like_hub_id(spec), spec
    assert looks_like_hub_id("gpt2", bare=True) and not looks_like_hub_id("org/data:test", split=False)


def test_a_missing_path_is_no_such_file_at_once() -> None:
    for spec in ("samples/ultrachat_sample.jsonl", "org/chat.jsonl.gz", "runs/k2/out", "./data", "~/nowhere-7f3a"):
        with pytest.raises(InputError, match="no such file or folder") as caught:
            resolve_inputs([spec])
        assert caught.value.file == spec


def test_a_missing_path_is_no_such_file_in_check_and_training(tmp_path: Path) -> None:
    from distill_data.check.render import load_tokenizer
    from distill_data.train.data import _load_split
    from distill_data.train.recipe import DatasetSpec

    with pytest.raises(ConfigError, match=r"^samples/train\.parquet: no such file or folder"):
        load_splits("samples/train.parquet")
    with pytest.raises(ConfigError, match=r"tok/tokenizer\.json: no such folder \(and not a Hub id\)"):
        load_tokenizer("tok/tokenizer.json")
    with pytest.raises(InputError, match=r"^runs/sft\.parquet: no such file or folder"):
        _load_split(DatasetSpec(path="runs/sft.parquet", split="train_sft"), "train_sft")


def test_a_mistyped_relative_path_fails_at_once_without_the_network(tmp_path: Path) -> None:
    """The case of the report: 32 s of retries, then the Hub was blamed for a file that is missing."""
    env = {"HF_ENDPOINT": closed_port_endpoint()}
    args = ("ultrachat", "--input", "samples/ultrachat_sample.jsonl", "--output", "out", "--no-progress")
    result, seconds = cli_process(tmp_path, env, *args)
    assert result.returncode == 1
    assert "error: samples/ultrachat_sample.jsonl: no such file or folder" in result.stderr
    assert "Hub" not in result.stderr and "Retrying" not in result.stderr
    assert seconds < FAST, seconds


# --- the Hub: offline, or not reachable, is one line in seconds ---


def _messages_file(tmp_path: Path) -> Path:
    rows = [{"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]}]
    return write_jsonl(tmp_path / "train_sft.jsonl", rows)


HUB_COMMANDS = {
    "hub input": lambda tmp: ("ultrachat", "--input", "owner/chat", "--output", tmp / "out", "--no-progress"),
    "benchmark": lambda tmp: (
        "ultrachat",
        *("--input", BUNDLED_SAMPLE, "--decontaminate", "owner/bench", "--output", tmp / "out", "--no-progress"),
    ),
    "check data": lambda tmp: ("check", "owner/data", "--tokenizer", "owner/tok", "--no-progress"),
    "check tokenizer": lambda tmp: ("check", _messages_file(tmp), "--tokenizer", "owner/tok", "--no-progress"),
    "train model": lambda tmp: (
        *("train", "sft", "--recipe", REPO / "recipes" / "smoke" / "sft.yaml", "--set", "model.init=null"),
        *("--set", "model.name_or_path=owner/model", "--set", f"training.output_dir={tmp / 'model'}"),
    ),
}
WHO = {
    "hub input": "hub:owner/chat",
    "benchmark": "owner/bench",
    "check data": "hub:owner/data",
    "train model": "model.name_or_path owner/model",
}


@pytest.mark.slow  # each case runs a command against an unreachable Hub: about 25 s in all
@pytest.mark.parametrize("command", list(HUB_COMMANDS))
@pytest.mark.parametrize("network", ["offline", "refused"])
def test_the_hub_out_of_reach_fails_in_seconds_with_one_line(tmp_path: Path, command: str, network: str) -> None:
    if network == "offline":
        env = {"HF_HUB_OFFLINE": "1"}
        reason = "cannot reach the Hugging Face Hub (offline: HF_HUB_OFFLINE=1), and it is not in the local cache"
    else:
        env = {"HF_ENDPOINT": closed_port_endpoint()}
        reason = f"cannot reach the Hugging Face Hub at {env['HF_ENDPOINT']} (connection failed: "
    result, seconds = cli_process(tmp_path, env, *HUB_COMMANDS[command](tmp_path))
    who = WHO.get(command, "--tokenizer owner/tok")
    assert result.returncode == (2 if command.startswith("check") else 1), result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {who}: {reason}"), result.stderr
    assert "Retrying" not in result.stderr and "Traceback" not in result.stderr
    assert seconds < FAST, seconds
    assert not (tmp_path / "out").exists()


# --- plain input errors, said right ---


def test_a_symlink_loop_is_named_so(tmp_path: Path) -> None:
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop)
    code, text = invoke("ultrachat", "--input", loop, "--output", tmp_path / "out")
    assert code == 1
    assert f"{loop}: symlink loop" in " ".join(text.split()) and "no such file" not in text
    with pytest.raises(ConfigError, match="symlink loop"):
        load_splits(loop)


@pytest.mark.parametrize(
    ("suffix", "text", "expected"),
    [
        (".jsonl", '{"id": "1", "data": ["fine", "no end]}\n', "Invalid control character at column 39"),  # the newline
        (".json", '[{"id": "1", "data": ["no end]}]', "Unterminated string starting at column 23"),
    ],
)
def test_a_json_error_says_at_column_once(tmp_path: Path, suffix: str, text: str, expected: str) -> None:
    source = tmp_path / f"chat{suffix}"
    source.write_text(text, encoding="utf-8")
    code, output = invoke("ultrachat", "--input", source, "--output", tmp_path / "out")
    flat = " ".join(output.split())
    assert code == 1
    assert f"{source}, line 1: invalid JSON: {expected}" in flat, flat
    assert " at at " not in flat


def test_an_id_is_a_string_or_absent_one_rule_for_every_number(tmp_path: Path) -> None:
    refused = {
        "7": "int 7",
        "-3": "int -3",
        "1180591620717411303424": "int",  # 2**70: too long to show
        "7.5": "float 7.5",
        "7.0": "float 7.0",
        "NaN": "float nan",
        "-Infinity": "float -inf",
        "true": "bool",
        '["7"]': "list",
        '{"n": 7}': "dict",
    }
    for literal, shown in refused.items():
        source = tmp_path / "chat.jsonl"
        source.write_text(f'{{"id": "0", "data": ["a", "b"]}}\n{{"id": {literal}, "data": ["a", "b"]}}\n', "utf-8")
        code, output = invoke("ultrachat", "--input", source, "--output", tmp_path / "out")
        flat = " ".join(output.split())
        assert code == 1, (literal, output)
        assert f"{source}, line 2: field 'id': expected a string, got {shown}" in flat, (literal, flat)
        assert not (tmp_path / "out").exists()

    # The same rule for a typed column: an integer id column in Parquet is refused too, by row.
    parquet = tmp_path / "chat.parquet"
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int64()), "data": [["a", "b"], ["c", "d"]]}), parquet)
    code, output = invoke("ultrachat", "--input", parquet, "--output", tmp_path / "out")
    assert code == 1 and f"{parquet}, row 1: field 'id': expected a string, got int 1" in " ".join(output.split())

    # A string id, a null one and none at all are fine.
    rows = [{"id": "7", "data": ["a", "b"]}, {"id": None, "data": ["c", "d"]}, {"data": ["e", "f"]}]
    code, output = invoke("ultrachat", "--input", write_jsonl(tmp_path / "ok.jsonl", rows), "--output", tmp_path / "ok")
    assert code == 0, output
