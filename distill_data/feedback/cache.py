"""Answers already received, in SQLite, keyed by what was asked, so a rerun or ``--resume`` costs nothing.

The key is the sha256 of the request body (model name, messages, temperature, top_p, max_tokens, seed):
not the URL or the key, so the same model behind another server answers from the same cache. Each answer is
committed as it arrives (write-ahead log), so a crash or a kill loses only the requests in flight.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import OutputError

CACHE_FILE = "requests.sqlite"
SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class Answer:
    """What a chat-completions endpoint answered, and what it cost in tokens."""

    content: str
    tokens_in: int
    tokens_out: int
    finish_reason: str | None = None


def request_key(body: dict[str, Any]) -> str:
    """sha256 hex of the canonical JSON of a request body."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class AnswerCache:
    """A folder holding ``requests.sqlite``: one row per answered request."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(folder / CACHE_FILE, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, model TEXT NOT NULL, answer TEXT NOT NULL)"
            )
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            (version,) = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"{folder / CACHE_FILE}: cannot open the request cache ({exc})") from None
        if version != SCHEMA_VERSION:
            raise OutputError(f"{folder / CACHE_FILE}: cache schema {version}, expected {SCHEMA_VERSION}")

    @staticmethod
    def exists(folder: Path) -> bool:
        return (folder / CACHE_FILE).is_file()

    def get(self, key: str) -> Answer | None:
        row = self._db.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        return Answer(**json.loads(row[0])) if row else None

    def put(self, key: str, model: str, answer: Answer) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO answers VALUES (?, ?, ?)",
            (key, model, json.dumps(asdict(answer), ensure_ascii=False, sort_keys=True)),
        )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        self._db.close()
