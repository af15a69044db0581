"""Splits: seeded, order-independent selection and train/test assignment by ``prompt_id``, and the writing of
the spilled rows into their splits' Parquet shards.

Each dialogue gets a key: the first 8 bytes of sha256(purpose, seed, prompt_id). ``max_samples`` keeps the
rows with the smallest selection keys; the test split takes the selected rows with the smallest split
keys. Keys depend on nothing but the seed and the prompt, so the result is the same whatever the row
order or batching, and rows sharing a prompt_id always land on the same side.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from .errors import ConfigError
from .messages import truncate_after_last_user
from .sinks import DEFAULT_ROW_GROUP_ROWS, DEFAULT_SHARD_BYTES, ParquetSink
from .spill import spilled_batches

if TYPE_CHECKING:
    from .kinds import Side


@dataclass
class SplitConfig:
    """``test_size``: a fraction in [0, 1) or a row count; ``max_samples``: keep at most this many rows."""

    test_size: float | int = 0.1
    max_samples: int | None = None
    seed: int = 42

    def __post_init__(self) -> None:
        size = self.test_size
        if isinstance(size, bool) or not isinstance(size, (int, float)):
            raise ConfigError(f"test_size must be a fraction or a row count, got {size!r}")
        if isinstance(size, float) and not 0 <= size < 1:
            raise ConfigError(f"test_size as a fraction must be in [0, 1), got {size}")
        if isinstance(size, int) and size < 0:
            raise ConfigError(f"test_size must not be negative, got {size}")
        if self.max_samples is not None and (isinstance(self.max_samples, bool) or self.max_samples < 1):
            raise ConfigError(f"max_samples must be a positive row count, got {self.max_samples!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_test_size(text: str) -> float | int:
    """``"0.1"`` is a fraction, ``"2000"`` a row count."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def keys(prompt_ids: pa.Array | list[str | None], seed: int, purpose: str) -> np.ndarray:
    values = prompt_ids.to_pylist() if isinstance(prompt_ids, (pa.Array, pa.ChunkedArray)) else prompt_ids
    prefix = f"{purpose}\0{seed}\0".encode()
    return np.fromiter(
        (int.from_bytes(hashlib.sha256(prefix + (v or "").encode("utf-8")).digest()[:8], "big") for v in values),
        dtype=np.uint64,
        count=len(values),
    )


def _smallest(values: np.ndarray, count: int) -> np.ndarray:
    """Mask of the rows whose key is among the ``count`` smallest (ties by key go together)."""
    if count <= 0:
        return np.zeros(len(values), dtype=bool)
    if count >= len(values):
        return np.ones(len(values), dtype=bool)
    threshold = np.partition(values, count - 1)[count - 1]
    return values <= threshold


@dataclass
class Assignment:
    """Row masks: ``selected`` (after ``max_samples``), ``test``, and ``test_half``: the half of the test rows
    with the smallest split keys (the published preference datasets give their sft/gen test splits half
    the rows of the prefs test split)."""

    selected: np.ndarray
    test: np.ndarray
    test_half: np.ndarray

    @property
    def train(self) -> np.ndarray:
        return self.selected & ~self.test


def assign(prompt_ids: pa.Array | list[str | None], config: SplitConfig) -> Assignment:
    """Assign every row; the result depends only on the prompt ids and the seed, never on row order."""
    n = len(prompt_ids)
    selected = np.ones(n, dtype=bool)
    if config.max_samples is not None and n > config.max_samples:
        selected = _smallest(keys(prompt_ids, config.seed, "select"), config.max_samples)
    chosen = np.flatnonzero(selected)
    n_selected = len(chosen)
    if isinstance(config.test_size, float):
        n_test = round(config.test_size * n_selected)
    else:
        n_test = config.test_size
        if n_selected and n_test >= n_selected:
            raise ConfigError(f"test_size {n_test} leaves no training rows: only {n_selected} dialogues remain")
    split_keys = keys(prompt_ids, config.seed, "split")[chosen]
    test = np.zeros(n, dtype=bool)
    test[chosen] = _smallest(split_keys, n_test)
    test_half = np.zeros(n, dtype=bool)
    test_half[chosen] = _smallest(split_keys, n_test // 2) & test[chosen]
    return Assignment(selected, test, test_half)


def write_splits(
    spill_parts: list[Path],
    data_dir: Path,
    schema: pa.Schema,
    layout: dict[str, tuple[Side, bool]],
    config: SplitConfig,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
) -> dict[str, int]:
    """Assign each spilled row to its splits and stream it into Parquet shards per split.

    The spill is read one record batch at a time, twice (first only the prompt ids, which decide the splits), so
    memory holds one batch and the ids, not the spill: a memory map would count every page it touched.
    """
    # Copied out of each batch: a column read from a file shares (and would keep alive) the batch's buffer.
    prompt_ids = pa.chunked_array(
        [pa.concat_arrays([batch.column("prompt_id")]) for batch in spilled_batches(spill_parts)], pa.string()
    ).combine_chunks()
    assignment = assign(prompt_ids, config)
    del prompt_ids
    masks: dict[Side, np.ndarray] = {
        "train": assignment.train,
        "test": assignment.test,
        "test_half": assignment.test_half,
    }
    sinks = {name: ParquetSink(data_dir, name, schema, row_group_rows, shard_bytes) for name in layout}
    start = 0
    messages_index = schema.get_field_index("messages")
    for record_batch in spilled_batches(spill_parts):
        batch = pa.Table.from_batches([record_batch])
        rows = slice(start, start + len(batch))
        start += len(batch)
        for name, (side, gen) in layout.items():
            part = batch.filter(pa.array(masks[side][rows]))
            if gen:
                part = part.set_column(messages_index, "messages", truncate_after_last_user(part["messages"]))
            sinks[name].write(part)
    for sink in sinks.values():
        sink.close()  # a split without rows writes no file: `datasets` cannot load an empty split
    return {name: sink.rows for name, sink in sinks.items()}
