"""Input files: a local path, or a URL that fsspec opens (``hf://``, ``s3://``, ``gs://``, ``https://``, ...).

Both give their bytes (decompressed where the name says so), a label for messages and a description for
provenance. A local file keeps its own fast paths (plain ``open``, the path handed to Arrow); a URL is streamed
through fsspec, imported only when a URL is read, so the CLI starts without it.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from .compressed import open_binary, open_stream

# A scheme of two letters or more: "C:\\data" stays a (Windows) path.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
# What fsspec's ``info`` may say about a remote file's content (s3, gcs, http, hf), kept in provenance when present.
CHECKSUM_FIELDS = ("ETag", "etag", "md5Hash", "crc32c", "checksum", "Content-MD5", "Digest", "blob_id")


def is_url(spec: str) -> bool:
    """Whether an input spec is a URL (``scheme://...``) rather than a local path or a Hub id."""
    return _URL.match(spec) is not None


def display_path(path: Path) -> str:
    """``path`` as text that can be printed and written as UTF-8: bytes of a file name that are not UTF-8
    (which Python keeps as lone surrogates) are shown as ``\\xff``."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return stream_sha256(handle)


def stream_sha256(handle: BinaryIO) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class LocalFile:
    """A local input file."""

    path: Path

    @property
    def label(self) -> str:
        return display_path(self.path)

    @property
    def local(self) -> Path | None:
        return self.path

    def open_raw(self) -> BinaryIO:
        return self.path.open("rb")

    def open_seekable(self) -> BinaryIO:
        return self.path.open("rb")

    def open_binary(self) -> BinaryIO:
        return open_binary(self.path)

    def describe(self) -> dict[str, Any]:
        return {"path": self.label, "bytes": self.path.stat().st_size, "sha256": file_sha256(self.path)}


@dataclass(frozen=True)
class RemoteFile:
    """A file at a URL, opened through fsspec. ``path`` is the URL's path, for its name and suffixes."""

    url: str

    @property
    def label(self) -> str:
        return self.url

    @property
    def local(self) -> Path | None:
        return None

    @property
    def path(self) -> PurePosixPath:
        return PurePosixPath(urlsplit(self.url).path or "/")

    def info(self) -> dict[str, Any]:
        fs, path = url_to_fs(self.url)
        return dict(fs.info(path))

    def open_raw(self) -> BinaryIO:
        fs, path = url_to_fs(self.url)
        return fs.open(path, "rb")

    def open_binary(self) -> BinaryIO:
        return open_stream(self.path, self.open_raw)

    def open_seekable(self) -> BinaryIO:
        """The raw bytes for random access (Parquet reads its footer first); from a server that cannot send byte
        ranges (Python's ``http.server``), the whole file, read into memory."""
        handle = self.open_raw()
        try:
            handle.seek(-1, io.SEEK_END)
            handle.read(1)
            handle.seek(0)
        except (ValueError, OSError):
            handle.close()
            fs, path = url_to_fs(self.url)
            return io.BytesIO(fs.cat_file(path))
        return handle

    def describe(self) -> dict[str, Any]:
        """As a local file's (``path``, ``bytes``, ``sha256`` of the bytes, read once more), with the ``url`` and
        the remote's own checksum when fsspec reports one (an ETag, an MD5, an LFS sha256)."""
        info = self.info()
        with self.open_raw() as handle:
            digest = stream_sha256(handle)
        described: dict[str, Any] = {"path": self.url, "url": self.url, "bytes": info.get("size"), "sha256": digest}
        remote = {name: str(info[name]) for name in CHECKSUM_FIELDS if info.get(name)}
        lfs = info.get("lfs")
        if isinstance(lfs, dict) and lfs.get("sha256"):  # hf:// files stored with LFS
            remote["lfs_sha256"] = str(lfs["sha256"])
        if remote:
            described["checksum"] = remote
        return described


InputFile = LocalFile | RemoteFile


def url_to_fs(url: str) -> tuple[Any, str]:
    """fsspec's filesystem for ``url`` and the path on it."""
    import fsspec.core

    return fsspec.core.url_to_fs(url)
