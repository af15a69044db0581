"""Build a dataset from a recipe: source -> pipeline -> spill -> splits -> Parquet -> card and provenance.

Everything happens inside a staging folder that replaces ``output`` only when all of it succeeded. What
differs between kinds of data (the source, the output columns, the splits, the card) is a
:class:`~distill_data.kinds.DatasetKind`; the flow is the same for all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from rich.console import Console

from . import splits as splitting
from .cards import write_card
from .engines import make_engine
from .errors import ContractError, InputError
from .kinds import Side, kind_of_recipe
from .messages import truncate_after_last_user
from .provenance import package_versions, write_provenance
from .recipes import Recipe
from .sinks import DEFAULT_ROW_GROUP_ROWS, DEFAULT_SHARD_BYTES, ParquetSink, check_output, staging


@dataclass
class BuildResult:
    """What a run produced: where, how many rows per split, and the per-step statistics."""

    output: Path
    splits: dict[str, int]
    steps: list[dict[str, Any]]
    rows_read: int
    rejected: int


def build(
    recipe: Recipe,
    output: str | Path,
    *,
    overwrite: bool = False,
    on_error: str = "fail",
    batch_size: int = 10_000,
    progress: bool = True,
    console: Console | None = None,
    num_proc: int | None = None,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    engine: str = "local",
    ray_address: str | None = None,
) -> BuildResult:
    """Run ``recipe`` over its inputs and write ``output``; nothing is written if anything fails.

    ``num_proc`` workers (default: all cores) share the per-row work: processes of this machine when the
    input spans more than one batch (``engine="local"``), or Ray actors (``engine="ray"``, on the cluster at
    ``ray_address`` or a local Ray). The output is byte-identical to ``num_proc=1``. Splits are written in
    Parquet shards of about ``shard_bytes`` of Arrow data, in row groups of ``row_group_rows`` rows (a shard
    ends after a row group).
    """
    kind = kind_of_recipe(recipe)
    output = Path(output)
    schema = kind.schema()
    source = kind.make_source(recipe, on_error, batch_size)
    pipeline = recipe.pipeline()
    missing = [c for c in schema.names if c not in pipeline.check(source.columns)]
    if missing:
        raise ContractError(f"no step of the recipe writes the output column(s) {', '.join(missing)}")
    check_output(output, overwrite)
    expected = source.estimate_rows()
    one_batch = expected is not None and expected <= batch_size
    runner = None
    if engine != "local":
        runner = make_engine(engine, num_proc, ray_address)
    elif not one_batch and (num_proc or os.cpu_count() or 1) > 1:  # for one batch, processes cost more than they save
        runner = make_engine(engine, num_proc)

    with staging(output, overwrite) as stage:
        spill_path = stage / ".spill.arrow"
        rejects_path = stage / "rejects.jsonl"
        with rejects_path.open("w", encoding="utf-8") as rejects:
            source.rejects = rejects
            with pa.OSFile(str(spill_path), "wb") as sink, pa.ipc.new_file(sink, schema) as spill:
                batches = pipeline.run(
                    source.batches(), total_rows=expected, progress=progress, console=console, engine=runner
                )
                for batch in batches:
                    spill.write_table(batch.select(schema.names).cast(schema))
        if source.rejected == 0:
            rejects_path.unlink()
        if source.rows_read == 0:
            raise InputError(
                f"no valid rows in the input: all {source.rejected} rows were bad "
                "(run with --on-error fail to see the first problem)"
            )

        counts = write_splits(
            spill_path, stage / "data", schema, kind.splits, recipe.split, shard_bytes, row_group_rows
        )
        spill_path.unlink()
        if recipe.format == "arrow":
            save_to_disk(stage, list(kind.splits))
        record = {
            "command": recipe.kind,
            "recipe": recipe.to_dict(),
            "inputs": source.describe(),
            "on_error": on_error,
            "rows_read": source.rows_read,
            "rejected": source.rejected,
            "steps": pipeline.stats_dicts(),
            "split": recipe.split.to_dict(),
            "splits": counts,
            "columns": schema.names,
            "packages": package_versions(),
        }
        write_provenance(stage / "provenance.json", record)
        write_card(stage)
    return BuildResult(output, counts, record["steps"], source.rows_read, source.rejected)


def write_splits(
    spill_path: Path,
    data_dir: Path,
    schema: pa.Schema,
    layout: dict[str, tuple[Side, bool]],
    config: splitting.SplitConfig,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
) -> dict[str, int]:
    """Assign each spilled row to its splits and stream it into one Parquet file per split."""
    with pa.memory_map(str(spill_path)) as mapped:
        reader = pa.ipc.open_file(mapped)
        prompt_ids = reader.read_all().column("prompt_id").combine_chunks()
        assignment = splitting.assign(prompt_ids, config)
        masks: dict[Side, np.ndarray] = {
            "train": assignment.train,
            "test": assignment.test,
            "test_half": assignment.test_half,
        }
        sinks = {name: ParquetSink(data_dir, name, schema, row_group_rows, shard_bytes) for name in layout}
        start = 0
        messages_index = schema.get_field_index("messages")
        for index in range(reader.num_record_batches):
            batch = pa.Table.from_batches([reader.get_batch(index)])
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


def save_to_disk(stage: Path, split_names: list[str]) -> None:
    """Also write a ``DatasetDict.save_to_disk`` folder at ``arrow/`` from the Parquet splits."""
    import pyarrow.parquet as pq
    from datasets import Dataset, DatasetDict
    from datasets.table import InMemoryTable

    files: dict[str, list[Path]] = {}
    for path in sorted((stage / "data").glob("*.parquet")):
        files.setdefault(path.name.split("-")[0], []).append(path)
    # The Parquet schema carries the `datasets` features, so the loaded tables need no cast.
    splits = {
        name: Dataset(InMemoryTable(pa.concat_tables([pq.read_table(p) for p in files[name]])))
        for name in split_names
        if name in files
    }
    DatasetDict(splits).save_to_disk(str(stage / "arrow"))
