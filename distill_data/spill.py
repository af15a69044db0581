"""The spill: a run's processed rows streamed to Arrow IPC parts in its work folder, and read back in order.

The splits depend on every row (``max_samples`` and ``test_size`` rank all prompt ids), so the processed rows
wait on disk, not in memory, until the source is exhausted. Each finished part is followed by a checkpoint
(:mod:`distill_data.resume` keeps the work folder's layout and checkpoints), so a killed run loses at most one
part's work.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import pyarrow as pa

from . import resume as resuming
from .dataset_folder import DatasetFolder

if TYPE_CHECKING:
    from rich.console import Console

    from .engines import Engine
    from .pipeline import Pipeline
    from .sources.rows import RowSource


def spill(
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
    with DatasetFolder(stage).rejects.open("a", encoding="utf-8") as rejects:
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


def spilled_batches(spill_parts: list[Path]) -> Iterator[pa.RecordBatch]:
    """The spilled record batches in order, each read from disk when it is needed."""
    for path in spill_parts:
        with pa.OSFile(str(path)) as file:
            reader = pa.ipc.open_file(file)
            for index in range(reader.num_record_batches):
                yield reader.get_batch(index)


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
