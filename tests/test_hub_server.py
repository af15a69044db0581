"""The local Hub server's write side, driven only through huggingface_hub and datasets."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hub_server import READ_TOKEN, REVISION, WRITE_TOKEN, commits, serve
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants
from huggingface_hub.errors import BadRequestError, HfHubHTTPError, RepositoryNotFoundError

REPO = "tester/repo"
DATA = "data/train-00000-of-00001.parquet"
README = textwrap.dedent(
    """\
    ---
    configs:
    - config_name: default
      data_files:
      - split: train
        path: data/train-*.parquet
    ---
    # A test dataset
    """
)


def parquet_bytes(rows: int = 2000) -> bytes:
    table = pa.table({"id": list(range(rows)), "text": [f"row number {i}" for i in range(rows)]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


@pytest.fixture()
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Uploads must take the LFS path this server speaks, not Xet (the flag is read at call time).
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    server, _, _ = serve(tmp_path / "hub")
    yield server
    server.shutdown()
    server.server_close()


def api(server, token: str | bool = WRITE_TOKEN) -> HfApi:
    return HfApi(endpoint=server.url, token=token)


def files(server, revision: str | None = None, token: str | bool = WRITE_TOKEN) -> list[str]:
    return sorted(api(server, token).list_repo_files(REPO, repo_type="dataset", revision=revision))


def add(path: str, data: bytes) -> CommitOperationAdd:
    return CommitOperationAdd(path_in_repo=path, path_or_fileobj=data)


def commit(server, *ops, token: str = WRITE_TOKEN, **kwargs):
    return api(server, token).create_commit(
        REPO, operations=list(ops), commit_message=kwargs.pop("message", "update"), repo_type="dataset", **kwargs
    )


def download(server, filename: str, tmp_path: Path, **kwargs) -> bytes:
    kwargs.setdefault("token", WRITE_TOKEN)
    path = api(server, kwargs.pop("token")).hf_hub_download(
        REPO, filename, repo_type="dataset", cache_dir=tmp_path / "cache", **kwargs
    )
    return Path(path).read_bytes()


def test_whoami_tells_the_role_of_each_token(hub) -> None:
    who = api(hub).whoami()
    assert who["name"] == "tester" and who["type"] == "user"
    assert who["auth"]["accessToken"]["role"] == "write"
    assert api(hub, READ_TOKEN).whoami()["auth"]["accessToken"]["role"] == "read"
    with pytest.raises(HfHubHTTPError) as err:
        api(hub, "hf_unknown").whoami()
    assert err.value.response.status_code == 401


def test_create_repo_then_exist_ok(hub) -> None:
    url = api(hub).create_repo("repo", repo_type="dataset")  # no namespace: the token's user owns it
    assert url == f"{hub.url}/datasets/{REPO}" and url.repo_id == REPO
    assert (hub.root / "tester" / "repo").is_dir()
    assert api(hub).create_repo(REPO, repo_type="dataset", exist_ok=True).repo_id == REPO
    with pytest.raises(HfHubHTTPError) as err:
        api(hub).create_repo(REPO, repo_type="dataset")
    assert err.value.response.status_code == 409
    info = api(hub).dataset_info(REPO)
    assert info.sha == REVISION and info.siblings == []
    assert commits(hub, REPO) == []


def test_commit_download_delete_and_history(hub, tmp_path: Path) -> None:
    api(hub).create_repo(REPO, repo_type="dataset")
    data = parquet_bytes()
    assert len(data) > 10 * 1024
    first = commit(
        hub,
        add("notes.txt", b"hello\n"),
        add(DATA, data),
        add("README.md", README.encode()),
        message="first",
    )
    assert any("/info/lfs/objects/batch" in line for line in hub.log)
    assert any(line.startswith("PUT /lfs-upload/") for line in hub.log)
    assert files(hub) == ["README.md", DATA, "notes.txt"]
    assert (hub.root / REPO / DATA).read_bytes() == data
    assert api(hub).dataset_info(REPO).sha == first.oid
    tree = {f.path: f for f in api(hub).list_repo_tree(REPO, repo_type="dataset", recursive=True)}
    assert tree[DATA].lfs is not None and tree[DATA].lfs.size == len(data)
    assert tree["notes.txt"].lfs is None
    assert download(hub, DATA, tmp_path) == data
    assert download(hub, "notes.txt", tmp_path) == b"hello\n"

    second = commit(hub, CommitOperationDelete("notes.txt"), add("more/other.txt", b"other\n"), message="second")
    assert [message for _, message in commits(hub, REPO)] == ["first", "second"]
    assert [sha for sha, _ in commits(hub, REPO)] == [first.oid, second.oid]
    assert files(hub) == ["README.md", DATA, "more/other.txt"]
    assert not (hub.root / REPO / "notes.txt").exists()
    assert download(hub, "more/other.txt", tmp_path) == b"other\n"
    # An older sha still serves the repo as it was then.
    assert files(hub, revision=first.oid) == ["README.md", DATA, "notes.txt"]
    assert download(hub, "notes.txt", tmp_path / "old", revision=first.oid) == b"hello\n"
    assert [c.commit_id for c in api(hub).list_repo_commits(REPO, repo_type="dataset")][:2] == [second.oid, first.oid]


def test_branch_commit_leaves_main_unchanged(hub, tmp_path: Path) -> None:
    api(hub).create_repo(REPO, repo_type="dataset")
    commit(hub, add("a.txt", b"a\n"), message="on main")
    main_before = commits(hub, REPO)
    api(hub).create_branch(REPO, branch="dev", repo_type="dataset")
    with pytest.raises(HfHubHTTPError) as err:
        api(hub).create_branch(REPO, branch="dev", repo_type="dataset")
    assert err.value.response.status_code == 409
    api(hub).create_branch(REPO, branch="dev", repo_type="dataset", exist_ok=True)
    on_dev = commit(hub, add("b.txt", b"b\n"), CommitOperationDelete("a.txt"), revision="dev", message="on dev")
    assert commits(hub, REPO) == main_before
    assert commits(hub, REPO, branch="dev") == [*main_before, (on_dev.oid, "on dev")]
    assert files(hub) == ["a.txt"]
    assert files(hub, revision="dev") == ["b.txt"]
    assert api(hub).dataset_info(REPO, revision="dev").sha == on_dev.oid
    assert download(hub, "b.txt", tmp_path, revision="dev") == b"b\n"
    assert download(hub, "a.txt", tmp_path) == b"a\n"
    branches = {ref.name: ref.target_commit for ref in api(hub).list_repo_refs(REPO, repo_type="dataset").branches}
    assert branches == {"main": main_before[-1][0], "dev": on_dev.oid}


def test_read_or_unknown_token_cannot_write(hub) -> None:
    api(hub).create_repo(REPO, repo_type="dataset")
    commit(hub, add("a.txt", b"a\n"))
    before = commits(hub, REPO)
    for token, status in ((READ_TOKEN, 403), ("hf_unknown", 401)):
        with pytest.raises(HfHubHTTPError) as err:
            commit(hub, add("a.txt", b"changed\n"), add(DATA, parquet_bytes()), token=token)
        assert err.value.response.status_code == status
        assert err.value.response.headers.get("X-Error-Message")
        with pytest.raises(HfHubHTTPError) as err:
            api(hub, token).create_repo("tester/other", repo_type="dataset")
        assert err.value.response.status_code == status
    assert commits(hub, REPO) == before
    assert files(hub, token=READ_TOKEN) == ["a.txt"]
    assert (hub.root / REPO / "a.txt").read_bytes() == b"a\n"
    assert not (hub.root / "tester" / "other").exists()


def test_injected_failures(hub, tmp_path: Path) -> None:
    api(hub).create_repo(REPO, repo_type="dataset")
    commit(hub, add("a.txt", b"a\n"))
    before = commits(hub, REPO)
    hub.fail_next_commits = 1
    with pytest.raises(HfHubHTTPError) as err:
        commit(hub, add("a.txt", b"changed\n"), add("b.txt", b"b\n"))
    assert err.value.response.status_code == 500
    assert hub.fail_next_commits == 0
    assert commits(hub, REPO) == before and files(hub) == ["a.txt"]
    # The client retries preupload (503) and LFS uploads (500) by itself.
    hub.fail_next_preuploads = 1
    hub.fail_next_lfs_uploads = 1
    commit(hub, add("a.txt", b"changed\n"), add(DATA, parquet_bytes(1500)))
    assert hub.fail_next_preuploads == 0 and hub.fail_next_lfs_uploads == 0
    assert len(commits(hub, REPO)) == 2
    assert download(hub, "a.txt", tmp_path) == b"changed\n"


def test_commit_with_unknown_lfs_object_changes_nothing(hub) -> None:
    api(hub).create_repo(REPO, repo_type="dataset")
    commit(hub, add("a.txt", b"a\n"))
    before = commits(hub, REPO)
    ghost = add(DATA, parquet_bytes(1200))
    ghost._upload_mode, ghost._is_uploaded = "lfs", True  # pretend it was uploaded: the server must notice
    with pytest.raises(BadRequestError):
        commit(hub, add("b.txt", b"b\n"), ghost)
    with pytest.raises(HfHubHTTPError) as err:
        commit(hub, CommitOperationDelete("missing.txt"), add("b.txt", b"b\n"))
    assert err.value.response.status_code == 404
    assert commits(hub, REPO) == before and files(hub) == ["a.txt"]


def test_private_repo_is_hidden_without_a_token(hub, tmp_path: Path) -> None:
    api(hub).create_repo(REPO, repo_type="dataset", private=True)
    commit(hub, add("a.txt", b"a\n"))
    assert api(hub, READ_TOKEN).dataset_info(REPO).private is True
    with pytest.raises(RepositoryNotFoundError):
        api(hub, False).dataset_info(REPO)
    with pytest.raises(RepositoryNotFoundError):
        download(hub, "a.txt", tmp_path, token=False)
    assert download(hub, "a.txt", tmp_path, token=READ_TOKEN) == b"a\n"


def test_load_dataset_reads_an_uploaded_repo(hub, tmp_path: Path) -> None:
    api(hub).create_repo(REPO, repo_type="dataset")
    commit(hub, add(DATA, parquet_bytes(300)), add("README.md", README.encode()))
    script = textwrap.dedent(
        f"""
        import json, datasets
        ds = datasets.load_dataset({REPO!r})
        print(json.dumps({{"splits": sorted(ds), "rows": ds["train"].to_list()}}))
        """
    )
    # HF_ENDPOINT is read when huggingface_hub is imported, hence a fresh process.
    env = dict(
        os.environ,
        HF_ENDPOINT=hub.url,
        HF_HUB_DISABLE_XET="1",
        HF_HOME=str(tmp_path / "hf_home"),
        HF_HUB_DISABLE_TELEMETRY="1",
    )
    env.pop("HF_TOKEN", None)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["splits"] == ["train"]
    assert out["rows"] == [{"id": i, "text": f"row number {i}"} for i in range(300)]
    assert any(f"/datasets/{REPO}/resolve/" in line for line in hub.log)
