"""Faults, with the real command in a child process: SIGKILL at several points, Ctrl-C, a full disk, no folder.

A killed run must leave nothing at ``--output`` that looks complete (an old output replaced with --overwrite
stays as it was); Ctrl-C stops with a short message, exit 130 and no temporary folder; a write that fails
(here a file-size limit, as a full disk would) is one clear line, exit 1, and the staging folder is removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from distill_data import output_folder
from distill_data.cli import cli

TIMEOUT = 120


def command(corpus: Path, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "distill_data.cli",
        "ultrachat",
        "-i",
        str(corpus),
        "-o",
        str(output),
        "--no-progress",
        "--batch-size",
        "250",
        *extra,
    ]


def hidden_siblings(output: Path) -> list[Path]:
    """The staging or work folders of a run that builds ``output`` (``.out.tmp-*``, ``.out.partial``)."""
    return sorted(output.parent.glob(f".{output.name}.*"))


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def old_output(output: Path) -> dict[str, str]:
    """A finished output from an earlier run (its layout; the contents do not matter to the commit)."""
    (output / "data").mkdir(parents=True)
    (output / "data" / "train_sft-00000-of-00001.parquet").write_bytes(b"old parquet bytes")
    (output / "provenance.json").write_text('{"packages": {"distill-data": "0.1.0"}}\n', encoding="utf-8")
    (output / "README.md").write_text("the old card\n", encoding="utf-8")
    return snapshot(output)


def _stage_has(output: Path, pattern: str) -> bool:
    return any(next(stage.glob(pattern), None) is not None for stage in hidden_siblings(output))


# The phases of a run, in order, each told by what its staging folder holds (names of the output layout).
PHASES: dict[str, Callable[[Path], bool]] = {
    "staging": lambda output: bool(hidden_siblings(output)),
    "spilling": lambda output: _stage_has(output, "**/*.arrow"),
    "splitting": lambda output: _stage_has(output, "data"),
    "card": lambda output: _stage_has(output, "provenance.json"),
}


def start_and_wait_for(phase: str, args: list[str], output: Path, **popen: object) -> subprocess.Popen:
    """Start the command and return once it reached ``phase`` or a later one (so a fast phase is never missed)."""
    later = list(PHASES)[list(PHASES).index(phase) :]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **popen)
    deadline = time.monotonic() + TIMEOUT
    while not any(PHASES[name](output) for name in later):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate()
            pytest.fail(f"the run ended (or hung) before the {phase} phase: {process.returncode}\n{err.decode()}")
        time.sleep(0.002)
    return process


@pytest.mark.parametrize(
    ("phase", "overwrite"),
    [("staging", False), ("spilling", False), ("splitting", True), ("card", True)],
)
def test_sigkill_at_any_phase_leaves_no_output_that_looks_complete(corpus, tmp_path, phase, overwrite):
    output = tmp_path / "out"
    before = old_output(output) if overwrite else None
    args = command(corpus, output, "--num-proc", "1", *(["--overwrite"] if overwrite else []))
    process = start_and_wait_for(phase, args, output)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=TIMEOUT)
    assert process.returncode == -signal.SIGKILL
    if overwrite:
        assert snapshot(output) == before  # the old output, untouched
    else:
        assert not output.exists()
    if phase == "card":  # what the killed run left does not confuse the next one
        done = subprocess.run(args, capture_output=True, timeout=TIMEOUT)
        assert done.returncode == 0, done.stderr.decode()
        assert (output / "provenance.json").is_file() and not (output / "README.md").read_text().startswith("the old")
        assert json.loads((output / "provenance.json").read_text())["rows_read"] == 3001
        assert hidden_siblings(output) == []


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("num_proc", "whole_group"),
    [("1", False), ("2", True)],
    ids=["signal-to-the-process", "ctrl-c-to-the-process-group-with-workers"],
)
def test_sigint_stops_cleanly(corpus, tmp_path, num_proc, whole_group):
    output = tmp_path / "out"
    before = old_output(output)
    args = command(corpus, output, "--num-proc", num_proc, "--overwrite")
    # A shell starts background jobs with SIGINT ignored, and a child keeps that: the run must see it as a terminal
    # would, however this test was started.
    process = start_and_wait_for("spilling", args, output, preexec_fn=_default_sigint)
    if whole_group:  # a terminal's Ctrl-C reaches every process of the foreground group, workers included
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT)
    # communicate() returns only once every process holding the pipes (workers too) has exited.
    _, err = process.communicate(timeout=TIMEOUT)
    message = err.decode()
    assert process.returncode == 130, message
    assert "interrupted" in message and "Traceback" not in message and len(message) < 200, message
    assert hidden_siblings(output) == []
    assert snapshot(output) == before


def _limit_file_size(limit: int) -> Callable[[], None]:
    def limit_in_child() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_in_child


@pytest.mark.parametrize("writer", ["spill", "rejects"])
def test_full_disk_is_a_clear_error_and_the_staging_folder_goes(corpus, tmp_path, writer):
    output = tmp_path / "out"
    before = old_output(output)
    source = corpus
    if writer == "rejects":  # nearly every row bad: rejects.jsonl (a Python file) outgrows the limit first
        source = tmp_path / "mostly_bad.jsonl"
        rows = [json.dumps({"id": str(i), "data": "not a list " * 20}) for i in range(3000)]
        rows.append(json.dumps({"id": "good", "data": ["How do plants make food?", "Photosynthesis."]}))
        source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    args = command(source, output, "--num-proc", "1", "--overwrite", "--on-error", "skip")
    done = subprocess.run(args, capture_output=True, timeout=TIMEOUT, preexec_fn=_limit_file_size(64 * 1024))
    message = done.stderr.decode()
    assert done.returncode == 1, message
    assert f"error: {output}: cannot write the output (File too large); nothing was written" in " ".join(
        message.split()
    )
    assert "Traceback" not in message
    assert hidden_siblings(output) == []
    assert snapshot(output) == before


@pytest.mark.parametrize("below", ["", "sub"], ids=["parent-is-a-file", "ancestor-is-a-file"])
def test_output_under_a_file_is_a_clear_error(corpus, tmp_path, below):
    # Works as root too (root may write into any folder, but not into a file).
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    output = blocker / below / "out" if below else blocker / "out"
    result = CliRunner().invoke(
        cli, ["ultrachat", "-i", str(corpus), "-o", str(output), "--no-progress", "--num-proc", "1"]
    )
    message = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # reported, not raised
    assert "Not a directory" in message and str(blocker) in message
    assert blocker.read_text() == "not a folder"
    assert [p.name for p in tmp_path.iterdir()] == ["a_file"]


def test_commit_over_an_existing_output_leaves_one_folder(tmp_path):
    output = tmp_path / "out"
    before = old_output(output)
    with output_folder.staging(output, overwrite=True) as stage:
        (stage / "provenance.json").write_text('{"new": true}\n', encoding="utf-8")
        assert snapshot(output) == before  # until the commit, the old output is what is there
    assert snapshot(output) == {"provenance.json": hashlib.sha256(b'{"new": true}\n').hexdigest()}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_exchange_swaps_two_folders_or_touches_nothing(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "a").write_text("1")
    (second / "b").write_text("2")
    swapped = output_folder._exchange(first, second)
    assert swapped == sys.platform.startswith("linux")
    names = ([p.name for p in first.iterdir()], [p.name for p in second.iterdir()])
    assert names == ((["b"], ["a"]) if swapped else (["a"], ["b"]))


def test_ctrl_c_while_importing_exits_130_without_a_traceback(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The console script imports the CLI inside its own handler (a real SIGINT there is too short a window to hit
    reliably from a test, so the import itself is interrupted)."""
    import importlib.abc

    from distill_data import entry

    class Interrupting(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "distill_data.cli":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "distill_data.cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Interrupting(), *sys.meta_path])
    with pytest.raises(SystemExit) as exited:
        entry.main()
    assert exited.value.code == 130
    assert capsys.readouterr().err == "interrupted: nothing was written\n"
