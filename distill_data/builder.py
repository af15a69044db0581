"""Build a dataset from a recipe: source -> pipeline -> spill -> splits -> Parquet -> card and provenance.

Everything happens inside a staging folder that replaces ``output`` only when all of it succeeded. What
differs between kinds of data (the source, the output columns, the splits, the card) is a
:class:`~distill_data.kinds.DatasetKind`; the flow is the same for all.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, TypeVar

import numpy as np
import pyarrow as pa
from rich.console import Console

from . import resume as resuming
from . import splits as splitting
from .cards import write_card
from .engines import Engine, make_engine
from .errors import ContractError, InputError
from .kinds import Side, kind_of_recipe
from .messages import truncate_after_last_user
from .output_folder import claimed_output, staging
from .pipeline import Pipeline
from .provenance import package_versions, write_provenance
from .recipes import Recipe
from .sinks import DEFAULT_ROW_GROUP_ROWS, DEFAULT_SHARD_BYTES, ParquetSink
from .sources.rows import RowSource

T = TypeVar("T")


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
    force_overwrite: bool = False,
    on_error: str = "fail",
    batch_size: int = 10_000,
    progress: bool = True,
    console: Console | None = None,
    num_proc: int | None = None,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
    engine: str = "local",
    ray_address: str | None = None,
    resume: bool = False,
) -> BuildResult:
    """Run ``recipe`` over its inputs and write ``output``; nothing is written if anything fails.

    ``num_proc`` workers (default: all cores) share the per-row work: processes of this machine when the
    input spans more than one batch (``engine="local"``), or Ray actors (``engine="ray"``, on the cluster at
    ``ray_address`` or a local Ray). The output is byte-identical to ``num_proc=1``. Splits are written in
    Parquet shards of about ``shard_bytes`` of Arrow data, in row groups of ``row_group_rows`` rows (a shard
    ends after a row group). With ``resume``, an unfinished run of the same output (killed, say) continues
    from its last checkpoint, to the same bytes as a run that was never interrupted. An existing ``output`` is
    replaced only as :func:`~distill_data.output_folder.check_output` allows (``force_overwrite``: any folder
    but the protected ones), and only one run at a time writes it.
    """
    output = Path(output)
    inputs = [*recipe.inputs, *(spec for step in recipe.steps for spec in step.input_files())]
    with claimed_output(output, overwrite=overwrite, force=force_overwrite, inputs=inputs):
        kind = kind_of_recipe(recipe)
        source = kind.make_source(recipe, on_error, batch_size)
        describing = _in_background(source.describe)  # the inputs' checksums, while the rest gets ready
        schema = kind.schema()
        pipeline = recipe.pipeline()
        missing = [c for c in schema.names if c not in pipeline.check(source.columns)]
        if missing:
            raise ContractError(f"no step of the recipe writes the output column(s) {', '.join(missing)}")
        expected = source.estimate_rows()
        one_batch = expected is not None and expected <= batch_size
        work = resuming.work_folder(output)
        # What shapes the output must match for a run to continue another (the engine and workers may change).
        options = {
            "on_error": on_error,
            "batch_size": batch_size,
            "shard_bytes": shard_bytes,
            "row_group_rows": row_group_rows,
        }
        manifest = {"recipe": recipe.to_dict(), "options": options}
        # A resumed run compares the checksums first; a new one goes on while they are computed, and records them
        # in the manifest before its first checkpoint (which a resumed run could use).
        resumed = resuming.resume(work, {**manifest, "inputs": describing()}) if resume else None
        runner = None
        if engine != "local":
            runner = make_engine(engine, num_proc, ray_address)
        elif not one_batch and (num_proc or os.cpu_count() or 1) > 1:  # one batch: processes cost more than they save
            runner = make_engine(engine, num_proc)
        if not resume:
            resuming.start(work, manifest)
        elif resumed is not None:
            checkpoint = resumed[0]
            (console or Console(stderr=True)).print(
                f"resuming: {checkpoint.rows_read + checkpoint.rejected:,} input rows "
                f"({checkpoint.batches:,} batches) were done before the interruption",
                highlight=False,
            )

        with staging(output, overwrite=overwrite, force=force_overwrite, folder=work) as stage:

            def save_checkpoint(checkpoint: resuming.Checkpoint, state: Any) -> None:
                resuming.record_inputs(stage, describing())
                resuming.save(stage, checkpoint, state)

            spill_parts = _spill(
                stage,
                source,
                pipeline,
                schema,
                runner,
                resumed,
                shard_bytes,
                expected,
                progress,
                console,
                save_checkpoint,
            )
            rejects_path = stage / "rejects.jsonl"
            if source.rejected == 0:
                rejects_path.unlink()
            if source.rows_read == 0:
                raise InputError(
                    f"no valid rows in the input: all {source.rejected} rows were bad "
                    "(run with --on-error fail to see the first problem)"
                )

            counts = write_splits(
                spill_parts, stage / "data", schema, kind.splits, recipe.split, shard_bytes, row_group_rows
            )
            resuming.clear(stage)
            if recipe.format == "arrow":
                save_to_disk(stage, list(kind.splits))
            record = {
                "command": recipe.kind,
                "recipe": recipe.to_dict(),
                "inputs": describing(),
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
            resuming.finish(stage)
        return BuildResult(output, counts, record["steps"], source.rows_read, source.rejected)


def _in_background(function: Callable[[], T]) -> Callable[[], T]:
    """Start ``function`` on a thread (hashing files releases the GIL); the callable returned waits for its
    result, or raises its exception."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(function())
        except BaseException as exc:  # handed to the caller, who decides
            future.set_exception(exc)

    threading.Thread(target=run, name="distill-data-describe", daemon=True).start()
    return future.result


def _spill(
    stage: Path,
    source: RowSource,
    pipeline: Pipeline,
    schema: pa.Schema,
    engine: Engine | None,
    resumed: tuple[resuming.Checkpoint, Any] | None,
    part_bytes: int,
    expected: int | None,
    progress: bool,
    console: Console | None,
    save_checkpoint: Callable[[resuming.Checkpoint, Any], None],
) -> list[Path]:
    """Stream the processed rows into spill parts, with a checkpoint after each finished part; the parts' paths.

    A resumed run skips the input batches its checkpoint covers and restores the statistics and dedup's state.
    """
    checkpoint, state = resumed if resumed else (None, None)
    part = checkpoint.parts if checkpoint else 0
    first = checkpoint.batches if checkpoint else 0
    marks: dict[int, tuple[int, int, int]] = {}  # batch -> source counters and rejects length once it was read
    with (stage / "rejects.jsonl").open("a", encoding="utf-8") as rejects:
        batches = _counted_batches(source, rejects, checkpoint, marks)
        processed = pipeline.run(
            batches,
            total_rows=expected,
            progress=progress,
            console=console,
            engine=engine,
            state=state,
            yield_empty=True,
        )
        writer: _SpillWriter | None = None
        for number, batch in enumerate(processed, start=first):
            if len(batch):
                writer = writer or _SpillWriter(resuming.spill_part(stage, part), schema)
                writer.write(batch.select(schema.names).cast(schema))
            mark = marks.pop(number)
            if writer is not None and writer.bytes >= part_bytes:
                writer.close()
                writer = None
                part += 1
                save_checkpoint(resuming.Checkpoint(part, number + 1, *mark), pipeline.snapshot())
        if writer is not None:
            writer.close()
            part += 1
    return [resuming.spill_part(stage, number) for number in range(part)]


def _counted_batches(
    source: RowSource,
    rejects: TextIO,
    checkpoint: resuming.Checkpoint | None,
    marks: dict[int, tuple[int, int, int]],
) -> Iterator[pa.Table]:
    """The source's batches after those a checkpoint covers, noting the counters as each one is read."""
    batches = source.batches()
    number = 0
    if checkpoint is not None:
        source.rejects = None  # their rejects are already in the file
        for _ in itertools.islice(batches, checkpoint.batches):
            number += 1
        source.rows_read, source.rejected = checkpoint.rows_read, checkpoint.rejected
    source.rejects = rejects
    for batch in batches:
        rejects.flush()
        marks[number] = (source.rows_read, source.rejected, rejects.tell())
        number += 1
        yield batch


class _SpillWriter:
    """One spill part: an Arrow IPC file, and how many bytes of rows it holds."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._file = pa.OSFile(str(path), "wb")
        self._writer = pa.ipc.new_file(self._file, schema)
        self.bytes = 0

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)
        self.bytes += table.nbytes

    def close(self) -> None:
        self._writer.close()
        self._file.close()


def write_splits(
    spill_parts: list[Path],
    data_dir: Path,
    schema: pa.Schema,
    layout: dict[str, tuple[Side, bool]],
    config: splitting.SplitConfig,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
) -> dict[str, int]:
    """Assign each spilled row to its splits and stream it into Parquet shards per split.

    The spill is read one record batch at a time, twice (first only the prompt ids, which decide the splits), so
    memory holds one batch and the ids, not the spill: a memory map would count every page it touched.
    """
    # Copied out of each batch: a column read from a file shares (and would keep alive) the batch's buffer.
    prompt_ids = pa.chunked_array(
        [pa.concat_arrays([batch.column("prompt_id")]) for batch in _spilled_batches(spill_parts)], pa.string()
    ).combine_chunks()
    assignment = splitting.assign(prompt_ids, config)
    del prompt_ids
    masks: dict[Side, np.ndarray] = {
        "train": assignment.train,
        "test": assignment.test,
        "test_half": assignment.test_half,
    }
    sinks = {name: ParquetSink(data_dir, name, schema, row_group_rows, shard_bytes) for name in layout}
    start = 0
    messages_index = schema.get_field_index("messages")
    for record_batch in _spilled_batches(spill_parts):
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


def _spilled_batches(spill_parts: list[Path]) -> Iterator[pa.RecordBatch]:
    """The spilled record batches in order, each read from disk when it is needed."""
    for path in spill_parts:
        with pa.OSFile(str(path)) as file:
            reader = pa.ipc.open_file(file)
            for index in range(reader.num_record_batches):
                yield reader.get_batch(index)


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
