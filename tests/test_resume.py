"""--resume: a run killed (SIGKILL, real subprocesses) after some checkpoints continues to the same bytes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_jsonl
from test_scale import files

from distill_data import build
from distill_data.errors import InputError, OutputError
from distill_data.recipes import ultrachat_recipe
from distill_data.resume import CHECKPOINT, work_folder
from distill_data.sources.inputs import LocalFile
from distill_data.synthetic import ultrachat_rows, ultrafeedback_rows

BAD_ROW = {"prompt_id": "x", "data": "not a list"}  # rejected under --on-error skip


@pytest.fixture(scope="module")
def ultrachat_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows: list[dict] = list(ultrachat_rows(1600, seed=61))
    for position in (5, 700, 1500):  # bad rows before and after the checkpoints
        rows.insert(position, {**BAD_ROW, "id": str(position)})
    return write_jsonl(tmp_path_factory.mktemp("resume") / "in.jsonl", rows)


def command(source: Path, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "distill_data.cli", "ultrachat", "--filter", "-i", str(source), "-o", str(output),
        "--batch-size", "100", "--shard-mb", "1", "--on-error", "skip", "--no-progress", "--num-proc", "1", *extra,
    ]  # fmt: skip


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


def kill_after_checkpoint(args: list[str], output: Path, parts: int | None) -> None:
    """Start the run and SIGKILL it once ``parts`` spill parts are checkpointed (None: before the first)."""
    checkpoint = work_folder(output) / CHECKPOINT
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if parts is None and (work_folder(output) / "manifest.json").exists():
                break
            if parts is not None and checkpoint.exists() and json.loads(checkpoint.read_text())["parts"] >= parts:
                break
            time.sleep(0.005)
        assert process.poll() is None, "the run finished before it could be killed"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def uninterrupted(ultrachat_input: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    output = tmp_path_factory.mktemp("whole") / "out"
    done = run(command(ultrachat_input, output))
    assert done.returncode == 0, done.stderr
    return files(output)


@pytest.mark.parametrize("parts", [None, 1, 2])
def test_killed_run_resumes_to_the_same_bytes(
    parts: int | None, ultrachat_input: Path, uninterrupted: dict[str, bytes], tmp_path: Path
) -> None:
    output = tmp_path / "out"
    kill_after_checkpoint(command(ultrachat_input, output), output, parts)
    assert not output.exists()  # the kill left nothing that looks like an output
    assert work_folder(output).is_dir()
    if parts is not None:
        assert json.loads((work_folder(output) / CHECKPOINT).read_text())["parts"] >= parts

    resumed = run(command(ultrachat_input, output, "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    assert ("resuming: " in resumed.stderr) == (parts is not None)  # the work before the checkpoint is not redone
    assert files(output) == uninterrupted
    assert "rejects.jsonl" in uninterrupted and len(uninterrupted["rejects.jsonl"].splitlines()) == 3
    assert not work_folder(output).exists()


def test_resume_may_use_other_workers(ultrachat_input: Path, uninterrupted: dict[str, bytes], tmp_path: Path) -> None:
    output = tmp_path / "out"
    kill_after_checkpoint(command(ultrachat_input, output), output, 1)
    args = command(ultrachat_input, output, "--resume")
    args[args.index("--num-proc") + 1] = "2"
    resumed = run(args)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming: " in resumed.stderr
    assert files(output) == uninterrupted


def test_a_changed_input_or_option_refuses_to_resume(ultrachat_input: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(ultrachat_input.read_bytes())
    output = tmp_path / "out"
    kill_after_checkpoint(command(source, output), output, 1)

    other_batch = command(source, output, "--resume")
    other_batch[other_batch.index("--batch-size") + 1] = "50"
    refused = run(other_batch)
    assert refused.returncode == 1
    assert "cannot resume" in refused.stderr and "batch_size changed (100 then, 50 now)" in refused.stderr

    refused = run([*command(source, output, "--resume"), "--no-truecase"])
    assert refused.returncode == 1 and "the recipe (steps, parameters, splits or seed) changed" in refused.stderr

    with source.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(next(iter(ultrachat_rows(1, seed=99)))) + "\n")
    refused = run(command(source, output, "--resume"))
    assert refused.returncode == 1 and f"input {source.resolve()} changed" in refused.stderr
    assert work_folder(output).is_dir() and not output.exists()  # refusing changes nothing

    fresh = run(command(source, output))  # without --resume the unfinished run is discarded
    assert fresh.returncode == 0, fresh.stderr
    assert output.is_dir() and not work_folder(output).exists()


def test_nothing_to_resume_is_a_clear_error(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", list(ultrachat_rows(20, seed=3)))
    with pytest.raises(OutputError, match="nothing to resume: no unfinished run of this output"):
        build(ultrachat_recipe([str(source)]), tmp_path / "out", resume=True, progress=False)
    assert not (tmp_path / "out").exists()


def test_binarize_killed_then_resumed_through_the_api(tmp_path: Path) -> None:
    from distill_data.recipes import binarize_recipe

    source = write_jsonl(tmp_path / "in.jsonl", list(ultrafeedback_rows(1500, seed=62)))
    output = tmp_path / "out"
    args = [
        sys.executable, "-m", "distill_data.cli", "binarize", "-i", str(source), "-o", str(output), "--seed", "42",
        "--test-size", "50", "--batch-size", "50", "--shard-mb", "1", "--no-progress", "--num-proc", "1",
    ]  # fmt: skip
    kill_after_checkpoint(args, output, 1)
    assert not output.exists()

    recipe = binarize_recipe([str(source)], seed=42, test_size=50)
    options = {"batch_size": 50, "progress": False, "shard_bytes": 2**20, "num_proc": 1}
    build(recipe, output, resume=True, **options)
    build(recipe, tmp_path / "whole", **options)
    assert files(output) == files(tmp_path / "whole")


def test_an_error_in_the_process_removes_the_work_folder(tmp_path: Path) -> None:
    """Only a kill leaves work to resume: an error (here a bad row under --on-error fail) cleans up."""
    rows = [*ultrachat_rows(300, seed=5), BAD_ROW]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    with pytest.raises(InputError, match="line 301"):
        build(ultrachat_recipe([str(source)]), tmp_path / "out", batch_size=50, progress=False, shard_bytes=10_000)
    assert not work_folder(tmp_path / "out").exists() and not (tmp_path / "out").exists()


def test_inputs_are_checksummed_while_a_run_starts_and_recorded_before_its_first_checkpoint(tmp_path: Path) -> None:
    from distill_data import resume as resuming

    folder = tmp_path / ".out.partial"
    manifest = {"recipe": {"kind": "x"}, "options": {"batch_size": 5}}
    inputs = [{"path": "in.jsonl", "bytes": 3, "sha256": "ab"}]
    resuming.start(folder, manifest)
    (folder / "rejects.jsonl").write_text("left by the killed run\n")
    # Killed before its first checkpoint, so before it recorded its inputs: nothing of it is reused.
    assert resuming.resume(folder, {**manifest, "inputs": inputs}) is None
    assert json.loads((folder / "manifest.json").read_text())["inputs"] == inputs
    assert not (folder / "rejects.jsonl").exists()
    resuming.record_inputs(folder, [{"path": "other"}])  # recorded once: a later call changes nothing
    assert json.loads((folder / "manifest.json").read_text())["inputs"] == inputs


def test_the_first_checkpoint_has_the_inputs_checksums(ultrachat_input: Path, tmp_path: Path) -> None:
    output = tmp_path / "out"
    kill_after_checkpoint(command(ultrachat_input, output), output, 1)
    recorded = json.loads((work_folder(output) / "manifest.json").read_text())
    assert recorded["inputs"] == [LocalFile(ultrachat_input).describe()]
