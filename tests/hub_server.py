"""A tiny Hub-compatible HTTP server for tests: serves local folders as dataset repos.

Only what `datasets.load_dataset` and `huggingface_hub` need to read a dataset repo is implemented. Start it
with :func:`serve`, point ``HF_ENDPOINT`` at its URL (before huggingface_hub is imported) and set
``HF_HUB_DISABLE_XET=1``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

REVISION = "0" * 40


class HubHandler(BaseHTTPRequestHandler):
    root: Path
    log: list[str]

    def log_message(self, format: str, *args: object) -> None:
        self.log.append(f"{self.command} {self.path}")

    def _json(self, payload: object, status: int = 200) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _not_found(self, message: str = "Entry not found") -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Error-Code", "EntryNotFound")
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _repo(self, owner: str, name: str) -> Path | None:
        path = self.root / owner / name
        return path if path.is_dir() else None

    def _files(self, repo: Path) -> list[Path]:
        return sorted(p for p in repo.rglob("*") if p.is_file())

    def _entry(self, repo: Path, path: Path) -> dict:
        rel = path.relative_to(repo).as_posix()
        if path.is_dir():
            return {"type": "directory", "path": rel, "oid": hashlib.sha1(rel.encode()).hexdigest(), "size": 0}
        data = path.read_bytes()
        return {"type": "file", "path": rel, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlparse(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        # /api/datasets/{owner}/{name}[/revision/{rev}]
        if parts[:2] == ["api", "datasets"] and len(parts) >= 4:
            repo = self._repo(parts[2], parts[3])
            if repo is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "RepoNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            rest = parts[4:]
            if not rest or rest[0] == "revision":
                self._json(
                    {
                        "id": f"{parts[2]}/{parts[3]}",
                        "sha": REVISION,
                        "private": False,
                        "siblings": [{"rfilename": p.relative_to(repo).as_posix()} for p in self._files(repo)],
                        "cardData": {},
                        "tags": [],
                    }
                )
                return
            if rest[0] == "tree":
                sub = "/".join(rest[2:])
                base = repo / sub if sub else repo
                if not base.exists():
                    self._not_found()
                    return
                recursive = "recursive=true" in (url.query or "").lower() or "recursive=1" in (url.query or "")
                children = sorted(base.rglob("*") if recursive else base.iterdir())
                self._json([self._entry(repo, p) for p in children])
                return
        # /datasets/{owner}/{name}/resolve/{rev}/{path}
        if parts[:1] == ["datasets"] and len(parts) >= 6 and parts[3] == "resolve":
            repo = self._repo(parts[1], parts[2])
            target = repo / "/".join(parts[5:]) if repo else None
            if target is None or not target.is_file():
                self._not_found()
                return
            data = target.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
            self.send_header("X-Repo-Commit", REVISION)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            return
        self._not_found(f"not implemented: {url.path}")

    def do_POST(self) -> None:
        url = urlparse(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        # /api/datasets/{owner}/{name}/paths-info/{rev}
        if parts[:2] == ["api", "datasets"] and len(parts) >= 6 and parts[4] == "paths-info":
            repo = self._repo(parts[2], parts[3])
            if repo is None:
                self._not_found()
                return
            from urllib.parse import parse_qs

            fields = parse_qs(body) if not body.startswith("{") else json.loads(body)
            paths = fields.get("paths", [])
            self._json([self._entry(repo, repo / p) for p in paths if (repo / p).exists()])
            return
        self._not_found(f"not implemented: {url.path}")


def serve(root: Path) -> tuple[ThreadingHTTPServer, str, list[str]]:
    """Serve ``root/<owner>/<name>/...`` as dataset repos on a free loopback port; returns (server, url, log)."""
    log: list[str] = []
    handler = type("Handler", (HubHandler,), {"root": root, "log": log})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.server_address[1]}", log
