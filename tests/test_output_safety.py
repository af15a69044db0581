"""Safe by default: no command deletes or overwrites what it did not write, and one run writes an output at a time.

Each refusal is one error line, exit 1, with nothing deleted and nothing left beside the output.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, write_jsonl

from distill_data import output_folder
from distill_data.cli import cli
from distill_data.errors import OutputError
from distill_data.output_folder import check_output, claimed_output, output_lock, staging

GOOD = {"id": "1", "data": ["How do plants make food?", "Through photosynthesis, using light."]}
GOOD2 = {"id": "2", "data": ["What is compound interest?", "Interest earned on interest."]}


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, " ".join(result.output.split())


def ultrachat(source: Path, output: str | Path, *extra: str) -> tuple[int, str]:
    return invoke("ultrachat", "-i", source, "-o", output, "--no-progress", "--num-proc", "1", *extra)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and link under ``folder`` with its content hash (what a refused run must leave alone)."""
    return {
        str(p.relative_to(folder)): "link" if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() or p.is_symlink()
    }


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder with the things a user would hate to lose, and the input inside it."""
    folder = tmp_path / "home"
    (folder / ".ssh").mkdir(parents=True)
    (folder / ".ssh" / "id_ed25519").write_text("secret key")
    write_jsonl(folder / "in.jsonl", [GOOD, GOOD2])
    monkeypatch.setenv("HOME", str(folder))
    return folder


@pytest.mark.parametrize("flags", [["--overwrite"], ["--force-overwrite"]])
def test_the_home_folder_is_never_replaced(home: Path, flags: list[str]) -> None:
    before = snapshot(home)
    code, output = ultrachat(home / "in.jsonl", "~", *flags)
    assert code == 1 and "refusing to write the output over" in output and "home" in output
    assert snapshot(home) == before
    code, output = ultrachat(home / "in.jsonl", home.parent, *flags)  # a folder above it
    assert code == 1 and "refusing" in output
    assert snapshot(home) == before and sorted(p.name for p in home.parent.iterdir()) == ["home"]


@pytest.mark.parametrize("output", [".", "..", "/"])
def test_the_current_folder_and_above_and_the_root_are_never_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: str
) -> None:
    work = tmp_path / "project"
    source = write_jsonl(work / "in.jsonl", [GOOD, GOOD2])
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    before = snapshot(tmp_path)
    code, message = ultrachat(source, output, "--force-overwrite")
    assert code == 1 and "refusing to write the output over" in message
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("flags", [["--overwrite"], ["--force-overwrite"]])
def test_a_folder_holding_an_input_is_never_replaced(tmp_path: Path, flags: list[str]) -> None:
    data = tmp_path / "data"
    source = write_jsonl(data / "raw" / "in.jsonl", [GOOD, GOOD2])
    before = snapshot(tmp_path)
    for output, spec in [
        (data, source),
        (data, data / "raw"),
        (data, str(data / "*" / "*.jsonl")),
        (data / "raw", source),
    ]:
        code, message = ultrachat(spec, output, *flags)  # type: ignore[arg-type]
        assert code == 1 and "holds the input" in message, message
        assert snapshot(tmp_path) == before


def test_a_folder_holding_an_input_through_a_symbolic_link_is_never_replaced(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "real" / "in.jsonl", [GOOD, GOOD2])
    (tmp_path / "link").symlink_to(tmp_path / "real")
    code, message = ultrachat(tmp_path / "link" / "in.jsonl", tmp_path / "real", "--force-overwrite")
    assert code == 1 and "holds the input" in message
    assert source.exists()


def test_a_benchmark_file_counts_as_an_input(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [GOOD, GOOD2])
    bench = write_jsonl(tmp_path / "out" / "bench.jsonl", [{"prompt": "What is compound interest?"}])
    code, message = ultrachat(source, tmp_path / "out", "--decontaminate", bench, "--force-overwrite")
    assert code == 1 and "holds the input" in message and bench.exists()


def test_overwrite_replaces_only_an_earlier_output_holding_nothing_else(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [GOOD, GOOD2])
    out = tmp_path / "out"
    # A folder of someone else's, with a provenance.json that is not ours.
    out.mkdir()
    (out / "provenance.json").write_text('{"tool": "other"}')
    code, message = ultrachat(source, out, "--overwrite")
    assert code == 1 and "is not an output of distill-data" in message and "--force-overwrite" in message
    assert (out / "provenance.json").read_text() == '{"tool": "other"}'
    shutil.rmtree(out)
    # An earlier output is replaced, until someone puts a file of their own in it (a Hub clone's .git, say).
    assert ultrachat(source, out)[0] == 0
    assert ultrachat(source, out, "--overwrite")[0] == 0
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main")
    (out / "notes.md").write_text("mine")
    code, message = ultrachat(source, out, "--overwrite")
    assert code == 1 and "holds files distill-data did not write (.git, notes.md)" in message
    assert (out / "notes.md").read_text() == "mine" and (out / ".git" / "HEAD").exists()
    # Asked for loudly, the folder is replaced.
    assert ultrachat(source, out, "--force-overwrite")[0] == 0
    assert not (out / "notes.md").exists() and (out / "provenance.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out"]


def test_files_put_into_the_output_during_the_run_are_not_deleted(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [GOOD, GOOD2])
    out = tmp_path / "out"
    with (
        pytest.raises(OutputError, match="is not an output of distill-data"),
        claimed_output(out, overwrite=True, inputs=[source]),
        staging(out, overwrite=True) as stage,
    ):
        (stage / "provenance.json").write_text("{}")
        out.mkdir()
        (out / "late.txt").write_text("written while the run went on")
    assert (out / "late.txt").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out"]


def test_a_stale_work_folder_that_is_not_ours_is_not_deleted(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [GOOD, GOOD2])
    foreign = tmp_path / ".out.partial"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    code, message = ultrachat(source, tmp_path / "out")
    assert code == 1 and "is not the work folder of an unfinished distill-data run" in message
    assert (foreign / "thesis.tex").read_text() == "years of work"


def test_a_second_run_on_the_same_output_stops_at_once(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [GOOD, GOOD2])
    out = tmp_path / "out"
    with output_lock(out):
        started = time.monotonic()
        code, message = ultrachat(source, out)
        assert code == 1 and f"another run is writing {out}" in message
        assert time.monotonic() - started < 10
        assert not out.exists()
    assert ultrachat(source, out)[0] == 0  # the lock went with the first run: no file is left beside the output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out"]


def test_two_real_runs_on_one_output(corpus: Path, tmp_path: Path) -> None:
    """Two processes: the second stops with one line while the first is writing, and the first finishes."""
    out = tmp_path / "out"
    args = [sys.executable, "-m", "distill_data.cli", "ultrachat", "-i", str(corpus), "-o", str(out)]
    args += ["--no-progress", "--num-proc", "1", "--batch-size", "100"]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (tmp_path / ".out.partial").exists():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.005)
    # The first run is paused while it holds the lock (SIGSTOP), so it cannot finish before the second starts.
    first.send_signal(signal.SIGSTOP)
    try:
        second = subprocess.run(args, capture_output=True, text=True, timeout=120)
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 1 and "another run is writing" in second.stderr
    assert "Traceback" not in second.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert json.loads((out / "provenance.json").read_text())["rows_read"] > 0


def test_the_lock_file_is_taken_again_after_its_holder_removed_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_lock(out):
        pass
    with output_lock(out):
        assert (tmp_path / ".out.lock").exists()
    assert not (tmp_path / ".out.lock").exists()


def test_folders_made_for_the_lock_go_with_it_when_the_run_leaves_them_empty(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), output_lock(tmp_path / "a" / "b" / "out"):
        assert (tmp_path / "a" / "b" / ".out.lock").exists()
        raise RuntimeError("the run failed before writing anything")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "a").mkdir()
    with output_lock(tmp_path / "a" / "b" / "out"):
        (tmp_path / "a" / "b" / "out").mkdir()  # what the run wrote stays, and so does the folder holding it
    assert [p.name for p in tmp_path.rglob("*")] == ["a", "b", "out"]
    with output_lock(tmp_path / "a" / "c" / "out"):
        pass
    assert not (tmp_path / "a" / "c").exists() and (tmp_path / "a").is_dir()  # "a" was there before: kept


MOUNT_SCRIPT = """
set -e
mount -t tmpfs none "$OUT"
echo old > "$OUT/precious.txt"
set +e
"$PYTHON" -m distill_data.cli ultrachat -i "$SOURCE" -o "$OUT" --no-progress --num-proc 1 {flags} 2> "$ERR"
echo $? > "$CODE"
ls -A "$OUT" > "$LISTING"
"""


@pytest.mark.parametrize("flags", ["--overwrite", "--force-overwrite"])
def test_a_mount_point_is_refused_before_any_work(tmp_path: Path, flags: str) -> None:
    """A real tmpfs mount at the output, in a private mount namespace (``unshare``, as root or not)."""
    source = write_jsonl(tmp_path / "in.jsonl", [GOOD, GOOD2])
    out = tmp_path / "volume"
    out.mkdir()
    files = {name: tmp_path / name for name in ("err", "code", "listing")}
    env = {**os.environ, "OUT": str(out), "SOURCE": str(source), "PYTHON": sys.executable}
    env.update({name.upper(): str(path) for name, path in files.items()})
    script = textwrap.dedent(MOUNT_SCRIPT.format(flags=flags))
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    error = " ".join(files["err"].read_text().split())
    assert files["code"].read_text().strip() == "1", error
    assert "is a mount point" in error and "Traceback" not in error
    assert files["listing"].read_text().split() == ["precious.txt"]
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert leftovers == []


def test_a_bind_mount_is_a_mount_point(tmp_path: Path) -> None:
    """``os.path.ismount`` misses a bind mount of the same file system; the check reads the mount table."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    probe = (
        "import sys; from pathlib import Path; from distill_data.output_folder import _is_mount_point; "
        "print(_is_mount_point(Path(sys.argv[1])), _is_mount_point(Path(sys.argv[2])))"
    )
    script = f'mount --bind "$A" "$B" && "$PYTHON" -c "{probe}" "$B" "$A"'
    env = {**os.environ, "A": str(tmp_path / "a"), "B": str(tmp_path / "b"), "PYTHON": sys.executable}
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]


def test_a_commit_that_the_system_refuses_leaves_nothing_behind(tmp_path: Path, monkeypatch) -> None:
    """A busy folder (EBUSY) at the commit: one error, the old output untouched, no staging folder left."""
    source = write_jsonl(tmp_path / "in.jsonl", [GOOD, GOOD2])
    out = tmp_path / "out"
    assert ultrachat(source, out)[0] == 0
    before = snapshot(out)

    def busy(first: Path, second: Path) -> bool:
        raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(second))

    monkeypatch.setattr(output_folder, "_exchange", busy)
    code, message = ultrachat(source, out, "--overwrite")
    assert code == 1 and "cannot be replaced (it is in use or a mount point)" in message
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out"]


def test_check_output_needs_no_output_to_exist(tmp_path: Path) -> None:
    assert check_output(tmp_path / "new" / "out", overwrite=False) == (tmp_path / "new" / "out").resolve()
    (tmp_path / "empty").mkdir()
    check_output(tmp_path / "empty", overwrite=False)  # an empty folder may be written without --overwrite


def test_feedback_commands_refuse_a_folder_holding_their_input(tmp_path: Path) -> None:
    prompts = write_jsonl(tmp_path / "work" / "prompts.jsonl", [{"instruction": "Say hi."}])
    before = snapshot(tmp_path)
    code, message = invoke(
        "generate",
        "-p",
        prompts,
        "-m",
        "a@http://127.0.0.1:9",
        "-o",
        tmp_path / "work",
        "--force-overwrite",
        "--no-progress",
    )
    assert code == 1 and "holds the input" in message
    assert snapshot(tmp_path) == before


def test_card_waits_for_no_one_but_stops_while_a_run_writes(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [GOOD, GOOD2])
    out = tmp_path / "out"
    assert ultrachat(source, out)[0] == 0
    with output_lock(out):
        code, message = invoke("card", out)
        assert code == 1 and "another run is writing" in message
    assert invoke("card", out)[0] == 0


def test_training_never_saves_over_its_data_or_a_folder_of_other_files(tmp_path: Path) -> None:
    dataset = tmp_path / "datasets" / "sft"
    dataset.mkdir(parents=True)
    recipe = REPO / "recipes" / "smoke" / "sft.yaml"
    common = ("train", "sft", "--recipe", recipe, "--set", f"datasets.0.path={dataset}")
    code, message = invoke(*common, "--set", f"training.output_dir={tmp_path / 'datasets'}", "--force-overwrite")
    assert code == 1 and "holds the input" in message
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "README.md").write_text("my notes")
    code, message = invoke(*common, "--set", f"training.output_dir={mine}")
    assert code == 1 and "holds no earlier training output" in message and "--force-overwrite" in message
    assert (mine / "README.md").read_text() == "my notes"


def test_an_output_that_is_a_symlink_loop_is_named_so(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [GOOD, GOOD2])
    (tmp_path / "out").symlink_to(tmp_path / "out")
    code, message = ultrachat(source, tmp_path / "out", "--overwrite")
    assert code == 1 and "symlink loop" in message
    assert (tmp_path / "out").is_symlink()
