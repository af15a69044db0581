"""The splits to check: an output folder of this toolkit, one data file (any input format), or a Hub dataset id.

Folders and files may be local or URLs (fsspec: ``hf://``, ``s3://``, ``https://``, ...); files are read by
their format (:mod:`distill_data.sources.formats`).

Only the columns the checks read are loaded. A split is conversational SFT data (``messages``) or preference
pairs (``chosen`` and ``rejected``), as the trainer reads it: ``*_sft`` splits by their ``messages`` (binarized
ones carry ``chosen`` and ``rejected`` too), ``*_prefs`` and other splits with both columns as pairs; ``*_gen``
splits hold generation prompts (``messages`` cut after the last user turn).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, Literal

import pyarrow as pa

from ..dataset_folder import DATA
from ..errors import ConfigError, InputError
from ..sources.files import InputFile, LocalFile, RemoteFile, is_url, url_to_fs
from ..sources.formats import format_of, stem, supported_types, unsupported
from ..sources.hub_ids import hub_unreachable, looks_like_hub_id, offline_failure
from ..sources.inputs import input_file, missing_path

SplitKind = Literal["sft", "preference", "generation"]
# The columns a check can read: the conversations, the prompt (compared with the first user turn) and row ids.
COLUMNS = ("messages", "chosen", "rejected", "prompt", "prompt_id", "id")
_SHARD = re.compile(r"^(?P<split>.+?)-\d{5}-of-\d{5}$")


@dataclass
class Split:
    name: str
    kind: SplitKind
    table: pa.Table  # the needed columns of every row
    source: str  # where it was read, for messages

    @property
    def rows(self) -> int:
        return self.table.num_rows

    def sample(self, size: int | None, seed: int) -> list[int]:
        """Row indices to check: all of them, or ``size`` drawn with ``seed`` (kept in row order)."""
        if size is None or size >= self.rows:
            return list(range(self.rows))
        return sorted(random.Random(f"{seed}:{self.name}").sample(range(self.rows), size))


def split_name(file: PurePath) -> str:
    """``train_sft`` for ``train_sft-00000-of-00001.parquet`` (the Hub layout), else the file's stem."""
    name = stem(file)
    match = _SHARD.match(name)
    return match.group("split") if match else name


def load_splits(source: str | Path, only: tuple[str, ...] | list[str] = ()) -> list[Split]:
    """Every split of ``source`` (or those named in ``only``), in name order."""
    path = Path(source)
    if is_url(str(source)):
        tables = _remote(str(source))
    elif path.is_dir():
        tables = _folder(path)
    elif path.is_file():
        tables = {split_name(path): [_read_file(LocalFile(path))]}
    elif looks_like_hub_id(str(source), split=False, bare=True):
        tables = _hub(str(source), tuple(only))
    else:
        raise ConfigError(f"{source}: {missing_path(path)} (and not a Hub dataset id)")
    if only:
        unknown = [name for name in only if name not in tables]
        if unknown:
            raise ConfigError(f"{source}: no split {', '.join(unknown)} (splits: {', '.join(sorted(tables))})")
        tables = {name: tables[name] for name in only}
    splits = []
    for name in sorted(tables):
        table = _concat(tables[name], f"{source} (split {name})")
        splits.append(Split(name, _kind(name, table, f"{source} (split {name})"), table, str(source)))
    return splits


def _folder(folder: Path) -> dict[str, list[pa.Table]]:
    """``DIR/data/<split>-*.parquet`` (an output folder), else the data files directly in ``DIR``."""
    data = folder / DATA if (folder / DATA).is_dir() else folder
    files = sorted(f for f in data.iterdir() if f.is_file() and format_of(f) is not None)
    if not files:
        raise ConfigError(f"{data}: no {supported_types()} files (is {folder} an output folder of distill-data?)")
    tables: dict[str, list[pa.Table]] = {}
    for file in files:
        tables.setdefault(split_name(file), []).append(_read_file(LocalFile(file)))
    return tables


def _remote(url: str) -> dict[str, list[pa.Table]]:
    """A URL of one file, or of a folder read as a local one is (its ``data/`` when it has one)."""
    try:
        file = input_file(url)
    except InputError as exc:
        raise ConfigError(f"{url}: {exc.reason}") from None
    if file is not None:
        return {split_name(file.path): [_read_file(file)]}
    fs, path = url_to_fs(url)
    data, folder = url.rstrip("/"), path.rstrip("/")
    if fs.isdir(f"{folder}/{DATA}"):
        data, folder = f"{data}/{DATA}", f"{folder}/{DATA}"
    found = (PurePosixPath(p) for p in fs.ls(folder, detail=False) if fs.isfile(p))
    names = sorted(p.name for p in found if format_of(p) is not None)
    if not names:
        raise ConfigError(f"{data}: no {supported_types()} files (is {url} an output folder of distill-data?)")
    tables: dict[str, list[pa.Table]] = {}
    for name in names:
        tables.setdefault(split_name(PurePosixPath(name)), []).append(_read_file(RemoteFile(f"{data}/{name}")))
    return tables


def _read_file(file: InputFile) -> pa.Table:
    file_format = format_of(file.path)
    if file_format is None:
        raise ConfigError(f"{file.label}: {unsupported(file.path)}")
    try:
        table = file_format.table(file, _needed)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ConfigError(f"{file.label}: cannot read it: {exc}") from None
    return table.select(_needed(table.column_names) or table.column_names)


def _needed(names: list[str]) -> list[str] | None:
    """The columns the checks read; None (all, so an error can list them) when there is no conversation."""
    if not {"messages", "chosen", "rejected"} & set(names):
        return None
    return [c for c in COLUMNS if c in names]


def _hub(dataset_id: str, only: tuple[str, ...]) -> dict[str, list[pa.Table]]:
    """Every split of a Hub dataset, or only those named (the others are not downloaded)."""
    import datasets

    datasets.disable_progress_bars()
    unreachable = hub_unreachable(dataset_id)
    if unreachable is not None:
        raise ConfigError(f"hub:{dataset_id}: {unreachable}")
    try:
        if only:
            loaded = {name: datasets.load_dataset(dataset_id, split=name) for name in only}
        else:
            loaded = dict(datasets.load_dataset(dataset_id))
    except Exception as exc:  # the Hub client raises many kinds; all mean "cannot read it"
        raise ConfigError(
            f"hub:{dataset_id}: {offline_failure(exc) or f'could not load this Hub dataset: {exc}'}"
        ) from None
    out = {}
    for name, split in loaded.items():
        table = split.data.table
        out[name] = [table.select(_needed(table.column_names) or table.column_names)]
    return out


def _concat(tables: list[pa.Table], where: str) -> pa.Table:
    try:
        return pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    except pa.ArrowException as exc:
        raise ConfigError(f"{where}: the files of this split have different schemas: {exc}") from None


def _kind(split: str, table: pa.Table, where: str) -> SplitKind:
    names = table.column_names
    if split.endswith("_gen") and "messages" in names:
        return "generation"
    if split.endswith("_sft") and "messages" in names:
        return "sft"
    if "chosen" in names and "rejected" in names:
        return "preference"
    if "messages" in names:
        return "sft"
    raise ConfigError(
        f"{where}: needs a 'messages' column (SFT) or 'chosen' and 'rejected' columns (preference pairs); "
        f"columns: {', '.join(names) or 'none'}"
    )


def row_id(row: dict[str, Any]) -> str | None:
    """The row's ``prompt_id`` (or ``id``), shortened for display; None when the data has neither."""
    value = row.get("prompt_id") or row.get("id")
    return None if value is None else str(value)[:16]
