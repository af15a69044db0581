"""Compressed input files (``.jsonl.gz``, ``.json.zst``, ...): opened as streams of their decompressed bytes.

Teacher corpora are often shipped compressed; decompressing them first doubles the disk they need. The
readers here stream, so memory stays bounded whatever the file's size, and a truncated or damaged file is an
error (:data:`READ_ERRORS`), never a silently shorter input.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import BinaryIO

import zstandard

# Suffix -> the name used in messages.
COMPRESSIONS = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}
# What reading a damaged or truncated file raises (gzip: BadGzipFile, an OSError; all: EOFError when cut short).
READ_ERRORS = (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError)


def compression_of(path: PurePath) -> str | None:
    """``"gzip"``, ``"bzip2"``, ``"xz"``, ``"zstd"`` or None, from the file name."""
    return COMPRESSIONS.get(path.suffix.lower())


def data_suffix(path: PurePath) -> str:
    """The suffix of the data inside: ``.jsonl`` for ``rows.jsonl.gz`` and for ``rows.jsonl``."""
    if compression_of(path) is None:
        return path.suffix
    return PurePath(path.stem).suffix


def open_binary(path: Path) -> BinaryIO:
    """The file's (decompressed) bytes, read as they are needed."""
    compression = compression_of(path)
    if compression == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if compression == "bzip2":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if compression == "xz":
        return lzma.open(path, "rb")  # type: ignore[return-value]
    if compression == "zstd":
        return io.BufferedReader(_ZstdReader(lambda: path.open("rb")), buffer_size=1 << 16)  # type: ignore[return-value]
    return path.open("rb")


def open_stream(name: PurePath, opener: Callable[[], BinaryIO]) -> BinaryIO:
    """The (decompressed) bytes of a file that is not local (a URL), named ``name`` and opened by ``opener``."""
    compression = compression_of(name)
    if compression == "zstd":
        return io.BufferedReader(_ZstdReader(opener), buffer_size=1 << 16)  # type: ignore[return-value]
    handle = opener()
    if compression == "gzip":
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    if compression == "bzip2":
        return bz2.BZ2File(handle, "rb")  # type: ignore[return-value]
    if compression == "xz":
        return lzma.LZMAFile(handle, "rb")  # type: ignore[return-value]
    return handle


class _ZstdReader(io.RawIOBase):
    """The frames of a zstd file, one after another, in bounded pieces; a file that does not end where its last
    frame ends raises ``EOFError`` (``zstandard``'s reader returns a truncated file's partial data without a word).
    """

    def __init__(self, opener: Callable[[], BinaryIO]) -> None:
        super().__init__()
        self._opener = opener
        self._stream = zstandard.ZstdDecompressor().stream_reader(opener(), read_across_frames=True)
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = self._stream.readinto(buffer)
        if size == 0 and not self._checked:
            self._checked = True
            with self._opener() as handle:
                problem = zstd_framing_problem(handle)
            if problem is not None:
                raise EOFError(problem)
        return size

    def close(self) -> None:
        self._stream.close()
        super().close()


_ZSTD_MAGIC = 0xFD2FB528
_SKIPPABLE_MAGIC = 0x184D2A50  # the low 4 bits are free
_WINDOW_BYTES = (1, 0)  # by Single_Segment_flag
_DICTIONARY_ID_BYTES = (0, 1, 2, 4)
_CONTENT_SIZE_BYTES = ((0, 2, 4, 8), (1, 2, 4, 8))  # by Single_Segment_flag, then Frame_Content_Size_flag


class _Truncated(Exception):
    pass


def zstd_framing_problem(handle: BinaryIO) -> str | None:
    """Why a zstd file is not a sequence of whole frames (None when it is), from its frame and block headers alone
    (RFC 8878; block contents are skipped, not read)."""
    end = handle.seek(0, io.SEEK_END)
    handle.seek(0)

    def take(size: int) -> bytes:
        data = handle.read(size)
        if len(data) < size:
            raise _Truncated
        return data

    def skip(size: int) -> None:
        if handle.seek(size, io.SEEK_CUR) > end:
            raise _Truncated

    try:
        while handle.tell() < end:
            magic = int.from_bytes(take(4), "little")
            if magic & 0xFFFFFFF0 == _SKIPPABLE_MAGIC:
                skip(int.from_bytes(take(4), "little"))
                continue
            if magic != _ZSTD_MAGIC:
                return f"no zstd frame at byte {handle.tell() - 4}"
            descriptor = take(1)[0]
            single_segment, checksum = descriptor >> 5 & 1, descriptor >> 2 & 1
            skip(
                _WINDOW_BYTES[single_segment]
                + _DICTIONARY_ID_BYTES[descriptor & 3]
                + _CONTENT_SIZE_BYTES[single_segment][descriptor >> 6]
            )
            last = 0
            while not last:
                header = int.from_bytes(take(3), "little")
                last, kind, size = header & 1, header >> 1 & 3, header >> 3
                skip(1 if kind == 1 else size)  # an RLE block stores one byte
            skip(4 * checksum)
    except _Truncated:
        return "zstd file ended before the end of its last frame (truncated?)"
    return None
