"""Resolve ``--input`` values (files, globs, folders, URLs, Hub ids) and read raw records with their location.

This is the one resolver of input specs: a local file, folder or glob; a URL that fsspec opens (``hf://``,
``s3://``, ``gs://``, ``https://``, ``memory://``: a file, a folder or a glob where the filesystem lists); or a
Hub id (``org/name[:split]``, read with `datasets`). Files are read by their format (:mod:`.formats`), so every
record carries the file and the line (JSON Lines) or row (JSON arrays, Parquet, Hub) it came from.
"""

from __future__ import annotations

import errno
import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..dataset_folder import DATA, PROVENANCE
from ..errors import InputError
from .files import InputFile, LocalFile, RemoteFile, display_path, file_sha256, is_url, url_to_fs
from .formats import FileFormat, format_of, supported_types, unsupported
from .hub_ids import hub_unreachable, looks_like_hub_id, offline_failure
from .records import RawRecord, batch_records, jsonl_records, lone_surrogate, reject_line

if TYPE_CHECKING:
    import pyarrow as pa

# What distill-data writes or keeps beside an output: never read as input when found inside a folder input.
FEEDBACK_CACHE = "requests.sqlite"


@dataclass(frozen=True)
class HubDataset:
    """A dataset on the Hugging Face Hub, read with ``datasets.load_dataset(repo_id, split=...)``."""

    repo_id: str
    split: str = "train"

    @property
    def label(self) -> str:
        return f"hub:{self.repo_id}"

    def describe(self) -> dict[str, Any]:
        from huggingface_hub import HfApi, constants

        try:
            revision = HfApi().dataset_info(self.repo_id, timeout=constants.HF_HUB_ETAG_TIMEOUT).sha
        except Exception:  # the data was read; a missing revision should not fail the run
            revision = None
        return {"hub": self.repo_id, "split": self.split, "revision": revision}


InputRef = LocalFile | RemoteFile | HubDataset
__all__ = [
    "HubDataset",
    "InputFile",
    "InputRef",
    "LocalFile",
    "RawRecord",
    "RemoteFile",
    "batch_records",
    "display_path",
    "estimate_rows",
    "file_format",
    "file_sha256",
    "input_file",
    "jsonl_records",
    "lone_surrogate",
    "read_records",
    "reject_line",
    "resolve_inputs",
]


def resolve_inputs(specs: list[str] | tuple[str, ...]) -> list[InputRef]:
    """Expand each spec in order: a file, a folder (its supported files, sorted), a glob, a URL, or a Hub id."""
    if not specs:
        raise InputError("no input given (use --input PATH, a glob, a folder or a Hub dataset id)")
    refs: list[InputRef] = []
    for spec in specs:
        if is_url(spec):
            refs.extend(remote_files(spec))
            continue
        path = Path(spec).expanduser()
        if path.is_file():
            refs.append(LocalFile(_supported(path)))
        elif path.is_dir():
            refs.extend(LocalFile(p) for p in _folder_files(path, spec))
        elif glob.has_magic(spec):
            matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
            if not matches:
                raise InputError("no file matches this pattern", file=spec)
            refs.extend(LocalFile(_supported(p)) for p in matches)
        elif looks_like_hub_id(spec):
            repo_id, _, split = spec.partition(":")
            refs.append(HubDataset(repo_id, split or "train"))
        else:
            raise InputError(missing_path(path), file=spec)
    return refs


def input_file(spec: str) -> InputFile | None:
    """The one file a spec names (a local file, or a URL of a file), whatever its format; None for a folder, and
    for a local spec that is no file (a Hub id, a missing path: the caller decides). A missing URL is an error."""
    if not is_url(spec):
        path = Path(spec).expanduser()
        return LocalFile(path) if path.is_file() else None
    remote = RemoteFile(spec)
    try:
        info = remote.info()
    except FileNotFoundError:
        raise InputError("no such file or folder", file=spec) from None
    except Exception as exc:  # fsspec's filesystems raise their own kinds (aiohttp, botocore, ...)
        raise InputError(f"could not be read: {exc}", file=spec) from None
    return None if _is_folder(*url_to_fs(spec), info) else remote


def missing_path(path: Path) -> str:
    """Why a path that is neither a file nor a folder cannot be read: usually it does not exist."""
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop (a symbolic link that leads back to itself)"
    return "no such file or folder"


def _folder_files(folder: Path, spec: str) -> list[Path]:
    """The supported files under ``folder``, sorted. In an output of this toolkit only its ``data/`` is read (not
    its provenance.json, assets/ or rejects.jsonl); outputs, staging folders and request caches of this toolkit
    inside the folder are skipped, so a run writing into its input folder never reads its own output back."""
    is_output = (folder / PROVENANCE).is_file()
    root = folder / DATA if is_output else folder
    files: list[Path] = []
    outputs: list[str] = []
    for parent, subfolders, names in os.walk(root):
        here = Path(parent)
        kept = []
        for name in sorted(subfolders):
            if (here / name / PROVENANCE).is_file():
                outputs.append(display_path((here / name).relative_to(folder)))
            elif not (name.startswith(".") or (name.endswith(".cache") and (here / name / FEEDBACK_CACHE).is_file())):
                kept.append(name)  # hidden folders include the staging folders of runs (.OUT.tmp-*, .OUT.partial)
        subfolders[:] = kept
        files.extend(here / name for name in names if _is_data_file((here / name).relative_to(root)))
    files = sorted(f for f in files if f.is_file())
    if not files:
        reason = f"folder has no {supported_types()} files"
        if is_output:
            reason = f"an output of distill-data with no {supported_types()} files in its data/ folder"
        elif outputs:
            reason += f" (outputs of distill-data inside it are not read: {', '.join(outputs[:3])}; name their data/)"
        raise InputError(reason, file=spec)
    return files


def _is_data_file(relative: Path) -> bool:
    """A supported file, not hidden inside the folder (the folder itself may be under a hidden one)."""
    return _is_supported(relative) and not any(part.startswith(".") for part in relative.parts)


def _is_supported(path: PurePosixPath | Path) -> bool:
    return format_of(path) is not None


def _supported(path: Path) -> Path:
    if not _is_supported(path):
        raise InputError(unsupported(path), file=display_path(path))
    return path


def remote_files(spec: str) -> list[RemoteFile]:
    """The files of a URL: the file itself, a folder's supported files (sorted, hidden ones left out), or the
    matches of a glob where the filesystem can list."""
    try:
        fs, path = url_to_fs(spec)
    except (ImportError, ValueError) as exc:  # an unknown scheme, or its fsspec package is not installed
        raise InputError(f"cannot open this URL: {exc}", file=spec) from None
    try:
        if glob.has_magic(path):
            folder = path[: path.rfind("/", 0, _magic(path)) + 1]
            found = (p for p in fs.glob(path) if not _hidden(p.removeprefix(folder), path.removeprefix(folder)))
            matches = sorted(p for p in found if fs.isfile(p))
            if not matches:
                raise InputError("no file matches this pattern", file=spec)
            return [_remote_supported(_url(fs, spec, path, p)) for p in matches]
        if not _is_folder(fs, path, fs.info(path)):
            return [_remote_supported(spec)]
        root, spec_root = path.rstrip("/"), spec.rstrip("/")
        if fs.exists(f"{root}/{PROVENANCE}"):  # an output of this toolkit: only its data/
            root, spec_root = f"{root}/{DATA}", f"{spec_root}/{DATA}"
        found = [p.removeprefix(root + "/") for p in fs.find(root)]
        outputs = [p.rpartition("/")[0] + "/" for p in found if p.endswith("/" + PROVENANCE)]
        names = sorted(p for p in found if _is_data_file(PurePosixPath(p)) and not p.startswith(tuple(outputs)))
    except FileNotFoundError:
        raise InputError("no such file or folder", file=spec) from None
    except InputError:
        raise
    except Exception as exc:  # fsspec's filesystems raise their own kinds (aiohttp, botocore, ...)
        raise InputError(f"could not be read: {exc}", file=spec) from None
    if not names:
        raise InputError(f"folder has no {supported_types()} files", file=spec)
    return [RemoteFile(f"{spec_root}/{name}") for name in names]


def _is_folder(fs: Any, path: str, info: dict[str, Any]) -> bool:
    """Whether a URL is a folder: as its filesystem says, or, over HTTP (where every URL answers as a file), a
    name without a suffix whose page lists links."""
    if info.get("type") == "directory":
        return True
    return not PurePosixPath(path.split("?")[0]).suffix and bool(fs.isdir(path))


def _url(fs: Any, spec: str, path: str, found: str) -> str:
    """A file ``found`` on ``fs`` under the spec's ``path`` as a URL written as the spec was (``memory://b/x``,
    not fsspec's ``memory:///b/x``); HTTP listings are URLs already."""
    if is_url(found):
        return found
    spec_folder, path_folder = spec, path
    if glob.has_magic(path):
        spec_folder, path_folder = (
            spec[: spec.rfind("/", 0, _magic(spec)) + 1],
            path[: path.rfind("/", 0, _magic(path)) + 1],
        )
    if path_folder and found.startswith(path_folder):
        return spec_folder + found.removeprefix(path_folder)
    return fs.unstrip_protocol(found)


def _hidden(relative: str, pattern: str) -> bool:
    """Whether a glob's match lies in a hidden file or folder that the pattern did not name with its leading dot
    (as a local glob, which leaves hidden names out)."""
    return any(part.startswith(".") for part in relative.split("/")) and "/." not in f"/{pattern}"


def _magic(text: str) -> int:
    """Where the first wildcard in ``text`` is."""
    return min(i for i in (text.find("*"), text.find("?"), text.find("[")) if i >= 0)


def _remote_supported(url: str) -> RemoteFile:
    remote = RemoteFile(url)
    if not _is_supported(remote.path):
        raise InputError(unsupported(remote.path), file=url)
    return remote


def file_format(file: InputFile) -> FileFormat:
    """The format that reads ``file`` (resolved files always have one)."""
    found = format_of(file.path)
    if found is None:
        raise InputError(unsupported(file.path), file=file.label)
    return found


def estimate_rows(refs: list[InputRef]) -> int | None:
    """Rows to expect, for the progress bar: the sum of what each file's format counts cheaply, else unknown."""
    total = 0
    for ref in refs:
        if isinstance(ref, HubDataset):
            return None
        rows = file_format(ref).estimate_rows(ref)
        if rows is None:
            return None
        total += rows
    return total


def read_records(ref: InputRef, parquet_batch_rows: int = 10_000) -> Iterator[RawRecord]:
    """Every raw row of one input, in order; an empty input yields one error record."""
    empty = True
    for record in _read(ref, parquet_batch_rows):
        empty = False
        yield record
    if empty:
        yield RawRecord(ref.label, None, error="empty input: no rows")


def _read(ref: InputRef, parquet_batch_rows: int) -> Iterator[RawRecord]:
    if isinstance(ref, HubDataset):
        yield from _read_hub(ref)
    else:
        yield from file_format(ref).records(ref, parquet_batch_rows)


def _read_hub(ref: HubDataset) -> Iterator[RawRecord]:
    try:
        for number, value in enumerate(_hub_rows(ref), start=1):
            yield RawRecord(ref.label, f"row {number}", value=value)
    except _HUB_ERRORS as exc:
        raise InputError(offline_failure(exc) or f"could not load this Hub dataset: {exc}", file=ref.label) from exc


def hub_tables(ref: HubDataset, batch_rows: int) -> Iterator[pa.Table]:
    """The Hub dataset's rows as Arrow tables of ``batch_rows`` rows (the columns as `datasets` typed them)."""
    try:
        yield from _hub_rows(ref).with_format("arrow").iter(batch_size=batch_rows)
    except _HUB_ERRORS as exc:
        raise InputError(offline_failure(exc) or f"could not load this Hub dataset: {exc}", file=ref.label) from exc


def _hub_rows(ref: HubDataset) -> Any:
    """The dataset streamed by `datasets`, once one quick request has shown that the Hub answers (its own retries
    take half a minute to give up on a dead network)."""
    import datasets

    unreachable = hub_unreachable(ref.repo_id)
    if unreachable is not None:
        raise InputError(unreachable, file=ref.label)
    return datasets.load_dataset(ref.repo_id, split=ref.split, streaming=True)


_HUB_ERRORS = (FileNotFoundError, ConnectionError, ValueError, OSError)
