"""A tiny Hub-compatible HTTP server for tests: serves local folders as dataset and model repos, and accepts uploads.

Reads: what `datasets.load_dataset`, `transformers`' ``from_pretrained`` and `huggingface_hub` need to read a repo
(repo info, tree, paths-info, resolve with ranges). Writes: what `huggingface_hub.HfApi` needs to create repos and
branches and to commit files (whoami, repos/create, branch, validate-yaml, preupload, the LFS batch API with "basic"
transfers, commit). Start it with :func:`serve`; either pass ``endpoint=url`` to ``HfApi`` or point ``HF_ENDPOINT`` at
the URL before huggingface_hub is imported. Set ``HF_HUB_DISABLE_XET=1`` (or
``huggingface_hub.constants.HF_HUB_DISABLE_XET = True``): uploads go through the legacy LFS protocol, which this
server speaks, not through Xet.

Dataset and model repos have the same features; only their URLs differ, as on the Hub: ``/api/datasets/<owner>/<name>``
and ``/datasets/<owner>/<name>/resolve/...`` (``.../<name>.git/info/lfs/...``) for a dataset,
``/api/models/<owner>/<name>`` and ``/<owner>/<name>/resolve/...`` (no prefix) for a model. A create request with no
``type`` (huggingface_hub sends none for ``repo_type=None``) makes a model repo. Other repo types get a 400.

Layout under ``root``:

- ``root/<owner>/<name>/`` is the working tree of the ``main`` branch of dataset repo ``owner/name`` (files put there
  directly are served as they are: a repo with no commit has the sha :data:`REVISION`);
- ``root/.branches/<owner>/<name>/<quoted branch>/`` the working tree of every other branch;
- ``root/.hub/repos/<owner>/<name>/state.json`` branch heads, commits and the file manifest of every known sha;
- ``root/.models/<owner>/<name>/``, ``root/.models/.branches/<owner>/<name>/<quoted branch>/`` and
  ``root/.hub/models/<owner>/<name>/state.json``: the same for model repo ``owner/name`` (kept apart, so a model
  and a dataset of the same name do not collide);
- ``root/.hub/objects/<sha256>`` the content of committed regular files, ``root/.hub/lfs/<sha256>`` LFS uploads
  (content-addressed, shared by all repos).

A branch name resolves to its working tree; the head sha of a branch does too; an older sha of the repo is served
from its manifest (the repo as it was at that commit).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse

REVISION = "0" * 40
"""The sha of a repo (and of its ``main`` branch) before its first commit."""

WRITE_TOKEN = "hf_write_token"
READ_TOKEN = "hf_read_token"
DEFAULT_TOKENS = {WRITE_TOKEN: "write", READ_TOKEN: "read"}
DEFAULT_USER = "tester"

LFS_SIZE_THRESHOLD = 10 * 1024
LFS_SUFFIXES = (".parquet", ".png")
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_OID_RE = re.compile(r"^[0-9a-f]{64}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

Manifest = dict[str, dict[str, Any]]  # path -> {"sha256", "size", "lfs"}


class HubError(Exception):
    """An HTTP error answer: status, message, and the ``X-Error-Code`` the Hub would send."""

    def __init__(self, status: int, message: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"


def _git_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _is_lfs(path: str, size: int) -> bool:
    return path.endswith(LFS_SUFFIXES) or size > LFS_SIZE_THRESHOLD


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _check_repo_path(path: object) -> str:
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path or "\0" in path:
        raise HubError(400, f"Invalid path: {path!r}")
    if any(part in ("", ".", "..") for part in path.split("/")) or path.split("/")[0] == ".git":
        raise HubError(400, f"Invalid path: {path!r}")
    return path


REPO_TYPES = ("dataset", "model")
_API_TYPES = {"datasets": "dataset", "models": "model"}  # the second part of /api/<kind>/<owner>/<name>/...


class Store:
    """The repos of one type (their branches and commits) and the shared blobs, under one root folder (all state is
    on disk). Dataset repos live at ``root/<owner>/<name>``, model repos at ``root/.models/<owner>/<name>``."""

    def __init__(self, root: Path, repo_type: str = "dataset") -> None:
        if repo_type not in REPO_TYPES:
            raise ValueError(f"repo_type must be one of {REPO_TYPES}, not {repo_type!r}")
        self.root = Path(root)
        self.meta = self.root / ".hub"
        self.repo_type = repo_type
        self.base = self.root if repo_type == "dataset" else self.root / ".models"
        self.url_prefix = "datasets/" if repo_type == "dataset" else ""  # as in the Hub's web and resolve URLs
        self._states = self.meta / ("repos" if repo_type == "dataset" else "models")

    # --- locations -------------------------------------------------------------------------------------------
    @staticmethod
    def _check_id(owner: str, name: str) -> None:
        for part in (owner, name):
            if not part or part.startswith(".") or "/" in part or "\\" in part or part in ("..",):
                raise HubError(404, "Repository not found", "RepoNotFound")

    def repo_dir(self, owner: str, name: str) -> Path:
        self._check_id(owner, name)
        return self.base / owner / name

    def exists(self, owner: str, name: str) -> bool:
        return self.repo_dir(owner, name).is_dir()

    def branch_dir(self, owner: str, name: str, branch: str) -> Path:
        if branch == "main":
            return self.repo_dir(owner, name)
        return self.base / ".branches" / owner / name / quote(branch, safe="")

    def _state_path(self, owner: str, name: str) -> Path:
        return self._states / owner / name / "state.json"

    def load(self, owner: str, name: str) -> dict[str, Any]:
        path = self._state_path(owner, name)
        state = json.loads(path.read_text()) if path.is_file() else {}
        state.setdefault("private", False)
        state.setdefault("branches", {"main": REVISION})
        state.setdefault("commits", {})
        state.setdefault("manifests", {})
        state.setdefault("counter", 0)
        return state

    def save(self, owner: str, name: str, state: dict[str, Any]) -> None:
        _atomic_write(self._state_path(owner, name), json.dumps(state, indent=1, sort_keys=True).encode())

    # --- blobs -----------------------------------------------------------------------------------------------
    def lfs_path(self, oid: str) -> Path:
        return self.meta / "lfs" / oid

    def has_lfs(self, oid: str) -> bool:
        return bool(_OID_RE.match(oid)) and self.lfs_path(oid).is_file()

    def put_object(self, data: bytes) -> str:
        oid = hashlib.sha256(data).hexdigest()
        path = self.meta / "objects" / oid
        if not path.is_file():
            _atomic_write(path, data)
        return oid

    def get_blob(self, oid: str) -> bytes | None:
        for path in (self.meta / "objects" / oid, self.lfs_path(oid)):
            if path.is_file():
                return path.read_bytes()
        return None

    # --- trees -----------------------------------------------------------------------------------------------
    @staticmethod
    def _walk(folder: Path) -> dict[str, Path]:
        if not folder.is_dir():
            return {}
        return {
            p.relative_to(folder).as_posix(): p
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".tmp-")
        }

    def live_manifest(self, folder: Path, hint: Manifest | None, store: bool = False) -> Manifest:
        """The manifest of a working tree; LFS flags come from ``hint`` (the manifest recorded for its sha)."""
        manifest: Manifest = {}
        for rel, path in self._walk(folder).items():
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            known = (hint or {}).get(rel)
            lfs = bool(known and known["sha256"] == sha and known["lfs"])
            if store and not lfs:
                self.put_object(data)
            manifest[rel] = {"sha256": sha, "size": len(data), "lfs": lfs}
        return manifest

    def view(self, owner: str, name: str, rev: str, state: dict[str, Any] | None = None) -> View:
        state = state or self.load(owner, name)
        branches: dict[str, str] = state["branches"]
        if rev in branches:
            return View(self, rev, branches[rev], self.branch_dir(owner, name, rev), state)
        if _SHA_RE.match(rev):
            for branch in sorted(branches, key=lambda b: b != "main"):
                if branches[branch] == rev:
                    return View(self, branch, rev, self.branch_dir(owner, name, branch), state)
            if rev in state["manifests"]:
                return View(self, None, rev, None, state)
        raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")


class View:
    """A repo at one revision: a branch's working tree, or the manifest of an older sha."""

    def __init__(self, store: Store, branch: str | None, sha: str, folder: Path | None, state: dict) -> None:
        self.store, self.branch, self.sha, self.folder, self.state = store, branch, sha, folder, state
        self._manifest: Manifest | None = None

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            if self.folder is not None:
                hint = self.state["manifests"].get(self.sha)
                self._manifest = self.store.live_manifest(self.folder, hint)
            else:
                self._manifest = self.state["manifests"][self.sha]
        return self._manifest

    def read(self, path: str) -> bytes | None:
        entry = self.manifest.get(path)
        if entry is None:
            return None
        if self.folder is not None:
            return (self.folder / path).read_bytes()
        return self.store.get_blob(entry["sha256"])

    def is_dir(self, path: str) -> bool:
        return not path or any(p.startswith(path.rstrip("/") + "/") for p in self.manifest)

    def file_entry(self, path: str) -> dict[str, Any]:
        info = self.manifest[path]
        if info["lfs"]:
            pointer = _lfs_pointer(info["sha256"], info["size"])
            lfs = {"oid": info["sha256"], "size": info["size"], "pointerSize": len(pointer)}
            return {"type": "file", "path": path, "size": info["size"], "oid": _git_sha(pointer), "lfs": lfs}
        data = self.read(path) or b""
        return {"type": "file", "path": path, "size": info["size"], "oid": _git_sha(data)}

    def dir_entry(self, path: str) -> dict[str, Any]:
        oid = hashlib.sha1(f"tree {self.sha} {path}".encode()).hexdigest()
        return {"type": "directory", "path": path, "size": 0, "oid": oid}

    def entry(self, path: str) -> dict[str, Any] | None:
        path = path.strip("/")
        if path in self.manifest:
            return self.file_entry(path)
        if path and self.is_dir(path):
            return self.dir_entry(path)
        return None

    def listing(self, sub: str, recursive: bool) -> list[dict[str, Any]]:
        sub = sub.strip("/")
        prefix = f"{sub}/" if sub else ""
        files, dirs = [], set()
        for path in self.manifest:
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            for i in range(1, len(parts)):
                if recursive or i == 1:
                    dirs.add(prefix + "/".join(parts[:i]))
            if recursive or len(parts) == 1:
                files.append(path)
        return [self.dir_entry(d) for d in sorted(dirs)] + [self.file_entry(f) for f in sorted(files)]


class HubServer(ThreadingHTTPServer):
    """The HTTP server; its attributes are the knobs tests can turn.

    - ``tokens``: token -> role (``"write"`` or ``"read"``), all belonging to user ``user``;
    - ``fail_next_commits``: answer the next N commit requests with a 500, applying nothing;
    - ``fail_next_preuploads``: answer the next N preupload requests with a 503 (huggingface_hub retries these);
    - ``fail_next_lfs_uploads``: answer the next N LFS PUT uploads with a 500 (huggingface_hub retries these);
    - ``hold_lfs_uploads``: while this event is clear, LFS uploads wait for it (up to 60 s), so a test can kill
      a client in mid-upload; ``lfs_upload_arrived`` is set when one arrives;
    - ``log``: ``"METHOD /path?query"`` of every request answered;
    - ``stores``: repo type (``"dataset"``, ``"model"``) -> its :class:`Store`; ``store`` is the dataset one.
    """

    daemon_threads = True

    def __init__(self, root: Path, tokens: dict[str, str], user: str) -> None:
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.root = Path(root)
        self.stores = {repo_type: Store(self.root, repo_type) for repo_type in REPO_TYPES}
        self.store = self.stores["dataset"]  # the dataset repos; the blobs, shared by all repo types, too
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.tokens = dict(tokens)
        self.user = user
        self.log: list[str] = []
        self.lock = threading.RLock()
        self.fail_next_commits = 0
        self.fail_next_preuploads = 0
        self.fail_next_lfs_uploads = 0
        self.hold_lfs_uploads: threading.Event | None = None
        self.lfs_upload_arrived = threading.Event()
        self.lfs_tickets: dict[str, tuple[str, int]] = {}

    def commits(self, repo_id: str, branch: str = "main", *, repo_type: str = "dataset") -> list[tuple[str, str]]:
        return commits(self, repo_id, branch, repo_type=repo_type)

    def head(self, repo_id: str, branch: str = "main", *, repo_type: str = "dataset") -> str:
        return head(self, repo_id, branch, repo_type=repo_type)


class HubHandler(BaseHTTPRequestHandler):
    server: HubServer

    def log_message(self, format: str, *args: object) -> None:
        self.server.log.append(f"{self.command} {self.path}")

    # --- answers ---------------------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, payload: object, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)

    def _error(self, err: HubError) -> None:
        headers = {"X-Error-Message": err.message.replace("\n", " ")}
        if err.code:
            headers["X-Error-Code"] = err.code
        headers.update({k: str(v) for k, v in err.extra.pop("headers", {}).items()})
        self._json({"error": err.message, **err.extra}, err.status, headers)

    # --- requests --------------------------------------------------------------------------------------------
    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _role(self) -> str | None:
        """The role of the request's bearer token; None when there is none or it is unknown."""
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        return self.server.tokens.get(token) if token else None

    def _require_write(self, action: str) -> None:
        role = self._role()
        if role is None:
            raise HubError(401, INVALID_CREDENTIALS)
        if role != "write":
            raise HubError(403, f"You don't have the rights to {action}: your token is read-only")

    def _readable_repo(self, store: Store, owner: str, name: str) -> dict[str, Any]:
        """The state of a repo the caller may read; the Hub hides private repos (and missing ones) alike."""
        if not store.exists(owner, name):
            raise HubError(404, "Repository not found", "RepoNotFound")
        state = store.load(owner, name)
        if state["private"] and self._role() is None:
            raise HubError(401, "Repository not found", "RepoNotFound")
        return state

    def _writable_repo(self, store: Store, owner: str, name: str, action: str) -> dict[str, Any]:
        self._require_write(action)
        return self._readable_repo(store, owner, name)

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlparse(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        body = self._body() if self.command in ("POST", "PUT", "DELETE") else b""
        try:
            with self.server.lock:
                self._route(self.command, parts, query, body)
        except HubError as err:
            self._error(err)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _route(self, method: str, parts: list[str], query: dict[str, str], body: bytes) -> None:
        read = method in ("GET", "HEAD")
        if parts == ["api", "whoami-v2"] and read:
            return self._whoami()
        if parts == ["api", "repos", "create"] and method == "POST":
            return self._create_repo(body)
        if parts == ["api", "validate-yaml"] and method == "POST":
            return self._validate_yaml(body)
        if parts[:1] == ["api"] and len(parts) >= 4 and parts[1] in _API_TYPES:
            store = self.server.stores[_API_TYPES[parts[1]]]
            owner, name, rest = parts[2], parts[3], parts[4:] or [""]
            if read and (rest == [""] or (rest[0] == "revision" and len(rest) >= 2)):
                return self._repo_info(store, owner, name, "/".join(rest[1:]) or "main", query)
            if read and rest[0] == "tree" and len(rest) >= 2:
                return self._tree(store, owner, name, rest[1], "/".join(rest[2:]), query)
            if read and rest == ["refs"]:
                return self._refs(store, owner, name)
            if read and rest[0] == "commits" and len(rest) >= 2:
                return self._commit_log(store, owner, name, "/".join(rest[1:]))
            if method == "POST" and rest[0] == "paths-info" and len(rest) >= 2:
                return self._paths_info(store, owner, name, "/".join(rest[1:]), body)
            if method in ("POST", "DELETE") and rest[0] == "branch" and len(rest) >= 2:
                return self._branch(store, owner, name, "/".join(rest[1:]), body)
            if method == "POST" and rest[0] == "preupload" and len(rest) >= 2:
                return self._preupload(store, owner, name, "/".join(rest[1:]), body)
            if method == "POST" and rest[0] == "commit" and len(rest) >= 2:
                return self._commit(store, owner, name, "/".join(rest[1:]), query, body)
        if parts[:1] == ["lfs-upload"] and len(parts) == 2 and method == "PUT":
            return self._lfs_upload(parts[1], query.get("ticket", ""), body)
        # Web-side URLs: /datasets/<owner>/<name>/... for datasets, /<owner>/<name>/... (no prefix) for models.
        if parts[:1] == ["datasets"]:
            store, repo_parts = self.server.stores["dataset"], parts[1:]
        else:
            store, repo_parts = self.server.stores["model"], parts
        if len(repo_parts) >= 5 and repo_parts[2] == "resolve" and read:
            return self._resolve(store, repo_parts[0], repo_parts[1], repo_parts[3], "/".join(repo_parts[4:]))
        lfs_api = len(repo_parts) == 6 and repo_parts[2:5] == ["info", "lfs", "objects"]
        if lfs_api and repo_parts[1].endswith(".git") and repo_parts[5] in ("batch", "verify") and method == "POST":
            owner, name = repo_parts[0], repo_parts[1][: -len(".git")]
            return self._lfs_batch(store, owner, name, body) if repo_parts[5] == "batch" else self._lfs_verify(body)
        raise HubError(404, f"not implemented: {method} {'/'.join(parts)}", "EntryNotFound")

    # --- account ---------------------------------------------------------------------------------------------
    def _whoami(self) -> None:
        role = self._role()
        if role is None:
            raise HubError(401, INVALID_CREDENTIALS)
        user = self.server.user
        self._json(
            {
                "type": "user",
                "id": hashlib.sha1(user.encode()).hexdigest()[:24],
                "name": user,
                "fullname": user.title(),
                "email": f"{user}@example.com",
                "emailVerified": True,
                "isPro": False,
                "canPay": False,
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "t", "role": role}},
            }
        )

    def _validate_yaml(self, body: bytes) -> None:
        payload = json.loads(body or b"{}")
        content = payload.get("content") or ""
        match = re.match(r"^---\r?\n(.*?)\r?\n---", content, re.S)
        if match:
            try:
                import yaml

                meta = yaml.safe_load(match.group(1))
            except ImportError:
                meta = {}
            except Exception as exc:
                return self._json({"errors": [{"message": f"Invalid YAML: {exc}"}], "warnings": []}, 400)
            if meta is not None and not isinstance(meta, dict):
                return self._json({"errors": [{"message": "YAML metadata must be a mapping"}], "warnings": []}, 400)
        self._json({"errors": [], "warnings": []})

    # --- repos and branches ----------------------------------------------------------------------------------
    def _create_repo(self, body: bytes) -> None:
        self._require_write("create a repo")
        try:
            payload = json.loads(body or b"{}")
        except ValueError as exc:
            raise HubError(400, f"Invalid JSON: {exc}") from exc
        repo_type = payload.get("type") or "model"  # huggingface_hub sends no type for a model repo
        if repo_type not in self.server.stores:
            raise HubError(400, "This test server only hosts dataset and model repos")
        name, owner = payload.get("name"), payload.get("organization") or self.server.user
        if not isinstance(name, str) or not _NAME_RE.match(name) or not _NAME_RE.match(owner):
            raise HubError(400, f"Invalid repo name: {owner}/{name}")
        store = self.server.stores[repo_type]
        url = f"{self.server.url}/{store.url_prefix}{owner}/{name}"
        if store.exists(owner, name):
            raise HubError(409, f"You already created this {repo_type} repo", url=url)
        state = store.load(owner, name)
        state["private"] = payload.get("visibility") == "private" or bool(payload.get("private"))
        state["createdAt"] = _now()
        store.repo_dir(owner, name).mkdir(parents=True)
        store.save(owner, name, state)
        self._json({"url": url, "name": f"{owner}/{name}", "id": secrets.token_hex(12)})

    def _branch(self, store: Store, owner: str, name: str, branch: str, body: bytes) -> None:
        state = self._writable_repo(store, owner, name, "create a branch")
        if self.command == "DELETE":
            if branch == "main" or branch not in state["branches"]:
                raise HubError(404 if branch != "main" else 403, f"Cannot delete branch {branch}")
            del state["branches"][branch]
            shutil.rmtree(store.branch_dir(owner, name, branch), ignore_errors=True)
            store.save(owner, name, state)
            return self._json({})
        if branch.startswith("refs/") or not branch or ".." in branch or branch.endswith("/"):
            raise HubError(400, f"Invalid reference for a branch: {branch}")
        if branch in state["branches"]:
            raise HubError(409, "Reference already exists")
        start = json.loads(body or b"{}").get("startingPoint") or "main"
        source = store.view(owner, name, start, state)
        manifest = (
            store.live_manifest(source.folder, state["manifests"].get(source.sha), store=True)
            if source.folder is not None
            else source.manifest
        )
        state["manifests"].setdefault(source.sha, manifest)
        target = store.branch_dir(owner, name, branch)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for path in manifest:
            _atomic_write(target / path, source.read(path) or b"")
        state["branches"][branch] = source.sha
        store.save(owner, name, state)
        self._json({})

    def _refs(self, store: Store, owner: str, name: str) -> None:
        state = self._readable_repo(store, owner, name)
        branches = [
            {"name": b, "ref": f"refs/heads/{b}", "targetCommit": sha} for b, sha in sorted(state["branches"].items())
        ]
        self._json({"branches": branches, "converts": [], "tags": [], "pullRequests": []})

    def _commit_log(self, store: Store, owner: str, name: str, rev: str) -> None:
        state = self._readable_repo(store, owner, name)
        sha = store.view(owner, name, rev, state).sha
        items = []
        while sha in state["commits"]:
            commit = state["commits"][sha]
            items.append(
                {
                    "id": sha,
                    "title": commit["message"],
                    "message": commit["description"],
                    "authors": [{"user": commit["author"]}],
                    "date": commit["date"],
                }
            )
            sha = commit["parent"]
        date = state.get("createdAt") or _now()
        initial = {"id": sha, "title": "initial commit", "message": "", "authors": [{"user": "system"}], "date": date}
        items.append(initial)
        self._json(items)

    # --- reads -----------------------------------------------------------------------------------------------
    def _repo_info(self, store: Store, owner: str, name: str, rev: str, query: dict[str, str]) -> None:
        state = self._readable_repo(store, owner, name)
        view = store.view(owner, name, rev, state)
        siblings = []
        for path in view.manifest:
            sibling: dict[str, Any] = {"rfilename": path}
            if query.get("blobs", "").lower() in ("1", "true"):
                entry = view.file_entry(path)
                sibling.update(size=entry["size"], blobId=entry["oid"])
                if "lfs" in entry:
                    lfs = entry["lfs"]
                    sibling["lfs"] = {"sha256": lfs["oid"], "size": lfs["size"], "pointerSize": lfs["pointerSize"]}
            siblings.append(sibling)
        card: Any = {}
        readme = view.read("README.md") if "README.md" in view.manifest else None
        match = re.match(rb"^---\r?\n(.*?)\r?\n---", readme or b"", re.S)
        if match:
            with contextlib.suppress(Exception):
                import yaml

                card = yaml.safe_load(match.group(1).decode()) or {}
        date = state["commits"].get(view.sha, {}).get("date") or state.get("createdAt") or _now()
        id_seed = f"{owner}/{name}" if store.repo_type == "dataset" else f"{store.repo_type}:{owner}/{name}"
        info: dict[str, Any] = {
            "_id": hashlib.sha1(id_seed.encode()).hexdigest()[:24],
            "id": f"{owner}/{name}",
            "author": owner,
            "sha": view.sha,
            "private": state["private"],
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "lastModified": date,
            "createdAt": state.get("createdAt") or date,
            "siblings": siblings,
            "cardData": card if isinstance(card, dict) else {},
            "tags": [],
        }
        if store.repo_type == "model":
            info["modelId"] = info["id"]
        self._json(info)

    def _tree(self, store: Store, owner: str, name: str, rev: str, sub: str, query: dict[str, str]) -> None:
        state = self._readable_repo(store, owner, name)
        view = store.view(owner, name, rev, state)
        if not view.is_dir(sub):
            raise HubError(404, f"Entry not found: {sub}", "EntryNotFound", headers={"X-Repo-Commit": view.sha})
        entries = view.listing(sub, query.get("recursive", "").lower() in ("1", "true"))
        if query.get("expand", "").lower() in ("1", "true"):
            commit = state["commits"].get(view.sha)
            last = {"id": view.sha, "title": commit["message"] if commit else "initial commit", "date": _now()}
            for entry in entries:
                entry["lastCommit"] = last
        self._json(entries)

    def _paths_info(self, store: Store, owner: str, name: str, rev: str, body: bytes) -> None:
        state = self._readable_repo(store, owner, name)
        view = store.view(owner, name, rev, state)
        text = body.decode()
        fields = json.loads(text) if text.lstrip().startswith("{") else parse_qs(text)
        paths = fields.get("paths", [])
        paths = [paths] if isinstance(paths, str) else paths
        entries = [view.entry(p) for p in paths]
        self._json([e for e in entries if e is not None])

    def _resolve(self, store: Store, owner: str, name: str, rev: str, path: str) -> None:
        state = self._readable_repo(store, owner, name)
        view = store.view(owner, name, rev, state)
        data = view.read(path)
        if data is None:
            raise HubError(404, "Entry not found", "EntryNotFound", headers={"X-Repo-Commit": view.sha})
        info = view.manifest[path]
        etag = info["sha256"] if info["lfs"] else _git_sha(data)
        headers = {"ETag": f'"{etag}"', "X-Repo-Commit": view.sha, "Accept-Ranges": "bytes"}
        if info["lfs"]:
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))})
        status, size = 200, len(data)
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", (self.headers.get("Range") or "").strip())
        if match and match.group(1) + match.group(2):
            first, last = match.groups()
            start = int(first) if first else max(size - int(last), 0)
            end = min(int(last), size - 1) if first and last else size - 1
            if start >= size or start > end:
                raise HubError(416, "Range not satisfiable", headers={"Content-Range": f"bytes */{size}", **headers})
            status, data = 206, data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self._send(status, data, "application/octet-stream", headers)

    # --- uploads ---------------------------------------------------------------------------------------------
    def _preupload(self, store: Store, owner: str, name: str, rev: str, body: bytes) -> None:
        state = self._writable_repo(store, owner, name, "upload files")
        if self.server.fail_next_preuploads > 0:
            self.server.fail_next_preuploads -= 1
            raise HubError(503, "Service temporarily unavailable (injected failure)")
        if rev not in state["branches"]:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        files = []
        for item in json.loads(body or b"{}").get("files", []):
            path, size = item.get("path"), int(item.get("size") or 0)
            mode = "lfs" if _is_lfs(str(path), size) else "regular"
            files.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": None})
        self._json({"files": files, "commitOid": state["branches"][rev]})

    def _lfs_batch(self, store: Store, owner: str, name: str, body: bytes) -> None:
        self._writable_repo(store, owner, name, "upload LFS files")
        payload = json.loads(body or b"{}")
        if payload.get("operation") != "upload":
            raise HubError(400, "Only the upload operation is supported")
        if "basic" not in payload.get("transfers", ["basic"]):
            raise HubError(400, "Only the basic transfer is supported")
        objects = []
        for obj in payload.get("objects", []):
            oid, size = obj.get("oid"), obj.get("size")
            if not isinstance(oid, str) or not _OID_RE.match(oid) or not isinstance(size, int) or size < 0:
                error = {"code": 422, "message": "Invalid oid or size"}
                objects.append({"oid": str(oid), "size": size if isinstance(size, int) else 0, "error": error})
            elif store.has_lfs(oid):
                objects.append({"oid": oid, "size": size})
            else:
                ticket = secrets.token_hex(16)
                self.server.lfs_tickets[ticket] = (oid, size)
                actions = {
                    "upload": {"href": f"{self.server.url}/lfs-upload/{oid}?ticket={ticket}", "header": {}},
                    "verify": {
                        "href": f"{self.server.url}/{store.url_prefix}{owner}/{name}.git/info/lfs/objects/verify",
                        "header": {},
                    },
                }
                objects.append({"oid": oid, "size": size, "authenticated": True, "actions": actions})
        body_out = json.dumps({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode()
        self._send(200, body_out, "application/vnd.git-lfs+json")

    def _lfs_upload(self, oid: str, ticket: str, body: bytes) -> None:
        # Like a pre-signed storage URL: huggingface_hub sends no Authorization header here, the ticket is the auth.
        if self.server.lfs_tickets.get(ticket, ("", 0))[0] != oid:
            raise HubError(403, "Invalid or expired upload ticket")
        self.server.lfs_upload_arrived.set()
        if self.server.hold_lfs_uploads is not None:
            self.server.hold_lfs_uploads.wait(timeout=60)
        if self.server.fail_next_lfs_uploads > 0:
            self.server.fail_next_lfs_uploads -= 1
            raise HubError(500, "Storage error (injected failure)")
        expected_size = self.server.lfs_tickets[ticket][1]
        if hashlib.sha256(body).hexdigest() != oid or len(body) != expected_size:
            raise HubError(400, "Uploaded content does not match its sha256 oid and size")
        if not self.server.store.has_lfs(oid):
            _atomic_write(self.server.store.lfs_path(oid), body)
        self._send(200, b"", "text/plain")

    def _lfs_verify(self, body: bytes) -> None:
        self._require_write("verify LFS uploads")
        payload = json.loads(body or b"{}")
        oid, size = str(payload.get("oid")), payload.get("size")
        store = self.server.store
        if not store.has_lfs(oid) or store.lfs_path(oid).stat().st_size != size:
            raise HubError(404, f"LFS object {oid} was not uploaded")
        self._json({"oid": oid, "size": size})

    def _commit(self, store: Store, owner: str, name: str, rev: str, query: dict[str, str], body: bytes) -> None:
        state = self._writable_repo(store, owner, name, "commit to this repo")
        server = self.server
        if server.fail_next_commits > 0:
            server.fail_next_commits -= 1
            raise HubError(500, "Internal Error (injected failure)")
        if query.get("create_pr") in ("1", "true"):
            raise HubError(400, "Pull requests are not supported by this test server")
        if rev not in state["branches"]:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        try:
            items = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        except ValueError as exc:
            raise HubError(400, f"Invalid NDJSON payload: {exc}") from exc
        if not items or items[0].get("key") != "header" or not (items[0].get("value") or {}).get("summary"):
            raise HubError(400, "The first line of a commit must be a header with a non-empty summary")
        header = items[0]["value"]
        parent = state["branches"][rev]
        if header.get("parentCommit") not in (None, parent):
            raise HubError(412, "A commit has happened since. Please refresh and try again.")

        # Validate every operation against an in-memory copy before touching anything.
        folder = store.branch_dir(owner, name, rev)
        current = store.live_manifest(folder, state["manifests"].get(parent))
        new = dict(current)
        blobs: dict[str, bytes] = {}
        for item in items[1:]:
            key, value = item.get("key"), item.get("value") or {}
            if key == "file":
                path = _check_repo_path(value.get("path"))
                if value.get("encoding", "base64") != "base64":
                    data = str(value.get("content", "")).encode()
                else:
                    try:
                        data = base64.b64decode(value.get("content") or "", validate=True)
                    except (binascii.Error, ValueError) as exc:
                        raise HubError(400, f"Invalid base64 content for {path}") from exc
                sha = hashlib.sha256(data).hexdigest()
                blobs[sha] = data
                new[path] = {"sha256": sha, "size": len(data), "lfs": False}
            elif key == "lfsFile":
                path, oid = _check_repo_path(value.get("path")), str(value.get("oid"))
                if value.get("algo", "sha256") != "sha256" or not store.has_lfs(oid):
                    raise HubError(400, f"LFS file {path} with oid {oid} was not uploaded")
                size = store.lfs_path(oid).stat().st_size
                if value.get("size") not in (None, size):
                    raise HubError(400, f"LFS file {path}: size {value.get('size')} does not match {size}")
                new[path] = {"sha256": oid, "size": size, "lfs": True}
            elif key == "deletedFile":
                path = _check_repo_path(value.get("path"))
                if new.pop(path, None) is None:
                    raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
            elif key == "deletedFolder":
                prefix = _check_repo_path(str(value.get("path", "")).rstrip("/")) + "/"
                doomed = [p for p in new if p.startswith(prefix)]
                if not doomed:
                    raise HubError(404, f"A folder with this name doesn't exist: {prefix}", "EntryNotFound")
                for p in doomed:
                    del new[p]
            else:
                raise HubError(400, f"Unknown commit operation: {key!r}")
        for path in new:
            parents = path.split("/")
            for i in range(1, len(parents)):
                if "/".join(parents[:i]) in new:
                    raise HubError(400, f"{path} conflicts with the file {'/'.join(parents[:i])}")

        # Apply: blobs first (content-addressed, harmless), then the working tree, then the state.
        store.live_manifest(folder, state["manifests"].get(parent), store=True)
        state["manifests"].setdefault(parent, current)
        for data in blobs.values():
            store.put_object(data)
        for path in current:
            if path not in new or new[path] != current[path]:
                (folder / path).unlink()
        for directory in sorted({p for p in folder.rglob("*") if p.is_dir()}, key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                directory.rmdir()  # only succeeds when empty
        for path, info in new.items():
            if current.get(path) != info:
                content = blobs.get(info["sha256"]) if not info["lfs"] else store.lfs_path(info["sha256"]).read_bytes()
                _atomic_write(folder / path, content if content is not None else b"")
        state["counter"] += 1
        seed = f"{owner}/{name}|{rev}|{parent}|{state['counter']}|{time.time_ns()}|{header['summary']}"
        sha = hashlib.sha1((seed + json.dumps(new, sort_keys=True)).encode()).hexdigest()
        state["commits"][sha] = {
            "parent": parent,
            "branch": rev,
            "message": header["summary"],
            "description": header.get("description") or "",
            "author": server.user,
            "date": _now(),
        }
        state["manifests"][sha] = new
        state["branches"][rev] = sha
        store.save(owner, name, state)
        commit_url = f"{server.url}/{store.url_prefix}{owner}/{name}/commit/{sha}"
        self._json({"success": True, "commitOid": sha, "commitUrl": commit_url, "pullRequestUrl": None})


def _store_of(root_or_server: Path | str | HubServer, repo_type: str = "dataset") -> Store:
    if isinstance(root_or_server, HubServer):
        if repo_type not in root_or_server.stores:
            raise ValueError(f"repo_type must be one of {REPO_TYPES}, not {repo_type!r}")
        return root_or_server.stores[repo_type]
    return Store(Path(root_or_server), repo_type)


def commits(
    root_or_server: Path | str | HubServer, repo_id: str, branch: str = "main", *, repo_type: str = "dataset"
) -> list[tuple[str, str]]:
    """The commits reachable from ``branch``'s head as ``(sha, summary)``, oldest first (no initial commit).

    A branch created from ``main`` shares ``main``'s commits up to the point it was created, as in git.
    ``repo_type`` is ``"dataset"`` or ``"model"``.
    """
    owner, name = repo_id.split("/")
    store = _store_of(root_or_server, repo_type)
    state = store.load(owner, name)
    if branch not in state["branches"]:
        raise KeyError(f"{repo_id} has no branch {branch!r}")
    sha, out = state["branches"][branch], []
    while sha in state["commits"]:
        out.append((sha, state["commits"][sha]["message"]))
        sha = state["commits"][sha]["parent"]
    return out[::-1]


def head(
    root_or_server: Path | str | HubServer, repo_id: str, branch: str = "main", *, repo_type: str = "dataset"
) -> str:
    """The sha of ``branch``'s head (:data:`REVISION` before the first commit); ``repo_type`` as in :func:`commits`."""
    owner, name = repo_id.split("/")
    return _store_of(root_or_server, repo_type).load(owner, name)["branches"][branch]


def serve(
    root: Path, *, tokens: dict[str, str] | None = None, user: str = DEFAULT_USER
) -> tuple[HubServer, str, list[str]]:
    """Serve ``root/<owner>/<name>/...`` as dataset repos and ``root/.models/<owner>/<name>/...`` as model repos on
    a free loopback port; returns (server, url, log).

    ``tokens`` maps bearer tokens to their role, ``"write"`` or ``"read"`` (default :data:`DEFAULT_TOKENS`); every
    token belongs to ``user``, who owns repos created without an organization. Stop with ``server.shutdown()``.
    """
    server = HubServer(Path(root), DEFAULT_TOKENS if tokens is None else tokens, user)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, server.url, server.log
