"""Build a dataset from a recipe: source -> pipeline -> spill -> splits -> Parquet -> card and provenance.

Everything happens inside a staging folder that replaces ``output`` only when all of it succeeded. What
differs between kinds of data (the source, the output columns, the splits, the card) is a
:class:`~distill_data.kinds.DatasetKind`; the flow is the same for all. This module is only that flow: the
engine is chosen in :mod:`~distill_data.engines`, the spill is :mod:`~distill_data.spill`, checkpoints are
:mod:`~distill_data.resume`, the splits :mod:`~distill_data.splits` and the files :mod:`~distill_data.sinks`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console

from . import resume as resuming
from .cards import write_card
from .dataset_folder import DatasetFolder
from .engines import batch_rows, make_engine
from .errors import ContractError, InputError
from .kinds import kind_of_recipe
from .output_folder import claimed_output, staging
from .plots import pyplot
from .provenance import package_versions, write_provenance
from .recipes import Recipe
from .sinks import DEFAULT_ROW_GROUP_ROWS, DEFAULT_SHARD_BYTES, save_to_disk
from .spill import spill
from .splits import write_splits

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
    pipeline = recipe.pipeline()
    pipeline.check_packages()  # a missing package stops the run before the output or any input is touched
    inputs = [*recipe.inputs, *(spec for step in recipe.steps for spec in step.input_files())]
    with claimed_output(output, overwrite=overwrite, force=force_overwrite, inputs=inputs):
        kind = kind_of_recipe(recipe)
        source = kind.make_source(recipe, on_error, batch_size)
        describing = _in_background(source.describe)  # the inputs' checksums, while the rest gets ready
        expected = source.estimate_rows()
        source.batch_size = batch_rows(batch_size, expected)
        # First, so that local workers get ready while the rest does (their fork server starts now).
        runner = make_engine(engine, num_proc, ray_address, one_batch=expected is not None and expected <= batch_size)
        schema = kind.schema()
        missing = [c for c in schema.names if c not in pipeline.check(source.columns)]
        if missing:
            raise ContractError(f"no step of the recipe writes the output column(s) {', '.join(missing)}")
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

            _in_background(pyplot, name="distill-data-imports")  # for the card, while the rows are processed
            spill_parts = spill(
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
            folder = DatasetFolder(stage)
            rejects_path = folder.rejects
            if source.rejected == 0:
                rejects_path.unlink()
            if source.rows_read == 0:
                raise InputError(
                    f"no valid rows in the input: all {source.rejected} rows were bad "
                    "(run with --on-error fail to see the first problem)"
                )

            counts = write_splits(
                spill_parts, folder.data, schema, kind.splits, recipe.split, shard_bytes, row_group_rows
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
            write_provenance(folder.provenance, record)
            write_card(stage)
            resuming.finish(stage)
        return BuildResult(output, counts, record["steps"], source.rows_read, source.rejected)


def _in_background(function: Callable[[], T], name: str = "distill-data-describe") -> Callable[[], T]:
    """Start ``function`` on a thread (hashing files releases the GIL); the callable returned waits for its
    result, or raises its exception (one nobody waits for is raised again where the work is done for real)."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(function())
        except BaseException as exc:  # handed to the caller, who decides
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future.result
