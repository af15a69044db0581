"""The data mixture of a training recipe: each dataset's split (a fraction of it), concatenated and shuffled.

Columns are checked before anything else is loaded: SFT needs ``messages``, DPO ``chosen`` and ``rejected``.
Only those columns are kept, in the conversational format TRL expects (DPO with an implicit prompt: the
user turn leads both ``chosen`` and ``rejected``).

A dataset is a local output folder (its Parquet shards, memory-mapped by `datasets`), a Hub id, or a URL that
fsspec opens (an output folder's ``data/<split>-*.parquet``, or one file of any input format, read through
:mod:`distill_data.sources.formats`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..dataset_folder import DatasetFolder, split_pattern
from ..errors import ConfigError, InputError
from ..sources.files import is_url
from ..sources.hub_ids import hub_unreachable, looks_like_hub_id, offline_failure
from ..sources.inputs import file_format, input_file, missing_path, remote_files
from .recipe import DatasetSpec, Stage

COLUMNS: dict[str, tuple[str, ...]] = {"sft": ("messages",), "dpo": ("chosen", "rejected")}


def _load_split(spec: DatasetSpec, split: str) -> Any:
    import datasets

    datasets.disable_progress_bars()
    source = spec.path
    if is_url(source):
        return _load_remote(source, split)
    try:
        if Path(source).is_dir():
            splits = DatasetFolder(Path(source)).split_files()
            files = splits.get(split, [])
            if not files:
                available = sorted(splits)
                raise InputError(f"no split '{split}' (splits: {', '.join(available) or 'none'})", file=source)
            return datasets.Dataset.from_parquet([str(f) for f in files])
        if not Path(source).exists():
            if not looks_like_hub_id(source, split=False, bare=True):
                raise InputError(missing_path(Path(source)), file=source)
            unreachable = hub_unreachable(source)
            if unreachable is not None:
                raise InputError(unreachable, file=source)
        return datasets.load_dataset(source, split=split, revision=spec.revision)
    except InputError:
        raise
    except (FileNotFoundError, ValueError, ConnectionError, OSError) as exc:
        raise InputError(offline_failure(exc) or f"could not load split '{split}': {exc}", file=source) from None


def _load_remote(url: str, split: str) -> Any:
    """A split at a URL, read into memory: an output folder's shards of ``split``, or one file (split ``train``)."""
    import datasets
    import pyarrow as pa
    from datasets.table import InMemoryTable

    file = input_file(url)
    if file is None:
        files = remote_files(f"{url.rstrip('/')}/{split_pattern(split)}.parquet")
    elif split == "train":
        files = [file]
    else:
        raise InputError(f"no split '{split}' (one file holds one split: train)", file=url)
    tables = []
    for part in files:
        try:
            tables.append(file_format(part).table(part))
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise InputError(f"could not load split '{split}': {exc}", file=part.label) from None
    return datasets.Dataset(InMemoryTable(pa.concat_tables(tables) if len(tables) > 1 else tables[0]))


def load_mixture(specs: list[DatasetSpec], stage: Stage, seed: int) -> tuple[Any, Any | None]:
    """``(train, eval)`` datasets; eval is None when no dataset names an ``eval_split``."""
    import datasets

    needed = COLUMNS[stage]
    train_parts, eval_parts = [], []
    for spec in specs:
        split = _load_split(spec, spec.split)
        missing = [c for c in needed if c not in split.column_names]
        if missing:
            raise ConfigError(
                f"{spec.path} (split {spec.split}): a {stage.upper()} dataset needs column(s) {', '.join(needed)}; "
                f"missing {', '.join(missing)} (columns: {', '.join(split.column_names)})"
            )
        split = split.select_columns(list(needed))
        if spec.weight < 1:
            count = max(1, round(len(split) * spec.weight))
            split = split.shuffle(seed=seed).select(range(count))
        train_parts.append(split)
        if spec.eval_split:
            eval_parts.append(_load_split(spec, spec.eval_split).select_columns(list(needed)))
    train = datasets.concatenate_datasets(train_parts).shuffle(seed=seed)
    evaluation = datasets.concatenate_datasets(eval_parts) if eval_parts else None
    return train, evaluation


def texts(dataset: Any, stage: Stage) -> list[str]:
    """Every turn's text, to train a tokenizer for a randomly initialised model (smoke recipes)."""
    out: list[str] = []
    for column in COLUMNS[stage]:
        for conversation in dataset[column]:
            out.extend(message["content"] for message in conversation)
    return out
