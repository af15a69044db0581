"""`distill-data push` against a local Hub-compatible server: one commit, retries, tokens, dry runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from conftest import write_jsonl
from hub_server import READ_TOKEN, WRITE_TOKEN, serve

from distill_data import build
from distill_data.recipes import ultrachat_recipe
from distill_data.splits import SplitConfig
from distill_data.synthetic import ultrachat_rows

REPO_ID = "tester/uc"


@pytest.fixture()
def hub(tmp_path: Path):
    server, _, _ = serve(tmp_path / "hub")
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def datasets_built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two versions of one dataset: with a test split, and (changed) without one."""
    work = tmp_path_factory.mktemp("push")
    source = write_jsonl(work / "uc.jsonl", list(ultrachat_rows(150, seed=31)))
    first = build(
        ultrachat_recipe([str(source)], filter=False, split=SplitConfig(test_size=0.2)), work / "v1", progress=False
    )
    second = build(
        ultrachat_recipe([str(source)], filter=False, split=SplitConfig(test_size=0)), work / "v2", progress=False
    )
    return {"v1": first.output, "v2": second.output}


def env_for(server, tmp_path: Path, token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(
        HF_ENDPOINT=server.url, HF_HUB_DISABLE_XET="1", HF_HOME=str(tmp_path / "hf_home"), HF_HUB_DISABLE_TELEMETRY="1"
    )
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def cli(server, tmp_path: Path, *args: str | Path, token: str | None = WRITE_TOKEN) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "distill_data.cli", *map(str, args)]
    return subprocess.run(command, env=env_for(server, tmp_path, token), capture_output=True, text=True, timeout=300)


def load_remote(server, tmp_path: Path, repo_id: str, revision: str | None = None) -> dict[str, list[str]]:
    """Every split's prompt_ids, read back through `datasets.load_dataset` from the server."""
    script = (
        "import json, sys, datasets\n"
        f"ds = datasets.load_dataset({repo_id!r}, revision={revision!r})\n"
        "print(json.dumps({name: list(split['prompt_id']) for name, split in ds.items()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env_for(server, tmp_path / "reader", None),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def local_splits(folder: Path) -> dict[str, list[str]]:
    return {
        p.name.split("-")[0]: pq.read_table(p).column("prompt_id").to_pylist()
        for p in sorted((folder / "data").glob("*.parquet"))
    }


def test_push_then_load_and_push_again(hub, datasets_built: dict[str, Path], tmp_path: Path) -> None:
    first = cli(hub, tmp_path, "push", datasets_built["v1"], "--repo-id", REPO_ID)
    assert first.returncode == 0, first.stderr
    assert len(hub.commits(REPO_ID)) == 1
    assert "commit:" in first.stdout
    assert load_remote(hub, tmp_path, REPO_ID) == local_splits(datasets_built["v1"])

    second = cli(hub, tmp_path, "push", datasets_built["v2"], "--repo-id", REPO_ID, "--commit-message", "v2")
    assert second.returncode == 0, second.stderr
    commits = hub.commits(REPO_ID)
    assert len(commits) == 2 and commits[-1][1] == "v2"
    assert "(deleted)" in second.stdout
    remote = load_remote(hub, tmp_path, REPO_ID)
    assert remote == local_splits(datasets_built["v2"]) and "test_sft" not in remote

    from huggingface_hub import DatasetCard

    card = DatasetCard.load(hub.root / "tester" / "uc" / "README.md")
    rows = {s["name"]: s["num_examples"] for s in card.data.to_dict()["dataset_info"]["splits"]}
    assert rows == {name: len(ids) for name, ids in remote.items()}
    uploaded = {
        p.relative_to(hub.root / "tester" / "uc").as_posix()
        for p in (hub.root / "tester" / "uc").rglob("*")
        if p.is_file()
    }
    assert {"README.md", "provenance.json", "assets/steps.png"} <= uploaded
    assert not any(name.startswith(("arrow/", "rejects")) for name in uploaded)


def test_token_never_appears_in_output_or_files(hub, datasets_built: dict[str, Path], tmp_path: Path) -> None:
    secret = WRITE_TOKEN
    result = cli(hub, tmp_path, "push", datasets_built["v1"], "--repo-id", REPO_ID)
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    for folder in (datasets_built["v1"], hub.root / "tester", tmp_path / "hf_home"):
        for path in folder.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("hf_not_a_token", "token was rejected (HTTP 401)"),
        (READ_TOKEN, "read-only"),
        (None, "no Hugging Face token"),
    ],
)
def test_bad_tokens_leave_the_remote_unchanged(
    hub, datasets_built: dict[str, Path], tmp_path: Path, token: str | None, message: str
) -> None:
    assert cli(hub, tmp_path, "push", datasets_built["v1"], "--repo-id", REPO_ID).returncode == 0
    before = hub.commits(REPO_ID)
    result = cli(hub, tmp_path, "push", datasets_built["v2"], "--repo-id", REPO_ID, token=token)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    if token:
        assert token not in result.stdout + result.stderr
    assert hub.commits(REPO_ID) == before


def test_transient_errors_are_retried(hub, datasets_built: dict[str, Path], tmp_path: Path) -> None:
    hub.fail_next_commits = 2
    result = cli(hub, tmp_path, "push", datasets_built["v1"], "--repo-id", REPO_ID)
    assert result.returncode == 0, result.stderr
    assert hub.fail_next_commits == 0 and len(hub.commits(REPO_ID)) == 1


def test_dry_run_lists_files_and_changes_nothing(hub, datasets_built: dict[str, Path], tmp_path: Path) -> None:
    result = cli(hub, tmp_path, "push", datasets_built["v1"], "--repo-id", REPO_ID, "--dry-run", token=None)
    assert result.returncode == 0, result.stderr
    for path in sorted((datasets_built["v1"] / "data").iterdir()):
        assert f"data/{path.name}" in result.stdout and f"{path.stat().st_size:,}" in result.stdout
    assert "nothing was uploaded" in result.stdout
    assert not (hub.root / "tester" / "uc").exists()


def test_revision_commits_to_a_branch(hub, datasets_built: dict[str, Path], tmp_path: Path) -> None:
    assert cli(hub, tmp_path, "push", datasets_built["v1"], "--repo-id", REPO_ID).returncode == 0
    result = cli(hub, tmp_path, "push", datasets_built["v2"], "--repo-id", REPO_ID, "--revision", "v2-branch")
    assert result.returncode == 0, result.stderr
    assert len(hub.commits(REPO_ID)) == 1
    assert load_remote(hub, tmp_path, REPO_ID, "v2-branch") == local_splits(datasets_built["v2"])
    assert load_remote(hub, tmp_path, REPO_ID) == local_splits(datasets_built["v1"])


def test_incomplete_folders_are_refused(hub, datasets_built: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(datasets_built["v1"], broken)
    next((broken / "data").glob("train_sft-*")).unlink()
    result = cli(hub, tmp_path, "push", broken, "--repo-id", REPO_ID)
    assert result.returncode == 1 and "no data file for split train_sft" in result.stderr
    (broken / "provenance.json").unlink()
    result = cli(hub, tmp_path, "push", broken, "--repo-id", REPO_ID)
    assert result.returncode == 1 and "missing provenance.json" in result.stderr
    assert not (hub.root / "tester" / "uc").exists()


def test_python_api_push(hub, datasets_built: dict[str, Path], tmp_path: Path) -> None:
    script = (
        "from distill_data.hub import push\n"
        f"result = push({str(datasets_built['v1'])!r}, {REPO_ID!r}, private=True)\n"
        "print(result.commit_url)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env_for(hub, tmp_path, WRITE_TOKEN),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert len(hub.commits(REPO_ID)) == 1
    state = json.loads((hub.root / ".hub" / "repos" / "tester" / "uc" / "state.json").read_text())
    assert state.get("private") is True


def test_push_killed_mid_upload_leaves_the_remote_as_it_was_and_can_be_rerun(
    hub, datasets_built: dict[str, Path], tmp_path: Path
) -> None:
    import signal
    import threading

    first = cli(hub, tmp_path, "push", datasets_built["v1"], "--repo-id", REPO_ID)
    assert first.returncode == 0, first.stderr
    before = hub.commits(REPO_ID)

    hub.hold_lfs_uploads = threading.Event()
    hub.lfs_upload_arrived.clear()
    command = [sys.executable, "-m", "distill_data.cli", "push", str(datasets_built["v2"]), "--repo-id", REPO_ID]
    process = subprocess.Popen(command, env=env_for(hub, tmp_path, WRITE_TOKEN), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert hub.lfs_upload_arrived.wait(timeout=120), "the push never reached the upload"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        hub.hold_lfs_uploads.set()
    hub.hold_lfs_uploads = None
    assert hub.commits(REPO_ID) == before  # killed mid-upload: no commit, the remote is the old dataset
    assert load_remote(hub, tmp_path, REPO_ID) == local_splits(datasets_built["v1"])

    again = cli(hub, tmp_path, "push", datasets_built["v2"], "--repo-id", REPO_ID)
    assert again.returncode == 0, again.stderr
    assert len(hub.commits(REPO_ID)) == len(before) + 1
    assert load_remote(hub, tmp_path, REPO_ID) == local_splits(datasets_built["v2"])


@pytest.mark.parametrize("network", ["offline", "refused"])
def test_a_hub_out_of_reach_fails_in_seconds(datasets_built: dict[str, Path], tmp_path: Path, network: str) -> None:
    """No network or HF_HUB_OFFLINE=1: one line at once, not half a minute of retries (busy answers, 429 and 5xx,
    are still retried: test_transient_errors_are_retried)."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    server = SimpleNamespace(url=closed)
    env = env_for(server, tmp_path, WRITE_TOKEN) | ({"HF_HUB_OFFLINE": "1"} if network == "offline" else {})
    started = time.monotonic()
    command = [sys.executable, "-m", "distill_data.cli", "push", str(datasets_built["v1"]), "--repo-id", REPO_ID]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - started
    expected = "HF_HUB_OFFLINE=1 is set" if network == "offline" else "could not reach the Hub"
    assert result.returncode == 1 and expected in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and WRITE_TOKEN not in result.stderr
    assert seconds < 15, seconds
