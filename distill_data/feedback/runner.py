"""The loop generate and rate share: rows in, requests out concurrently, rows written in input order.

Rows are checked first (nothing is sent for a run that would fail on bad input), then worked on with a
bounded look-ahead: at most ``lookahead`` rows are in flight, and each finished row is written as soon as all
rows before it are, so memory stays bounded and the output order is the input order whatever the servers'
timing. Output goes to a staging folder that replaces ``--output`` only when the run succeeds; answers go to
the cache as they arrive, so a crash loses only the requests in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ..dataset_folder import DatasetFolder
from ..errors import ConfigError, DistillDataError
from ..output_folder import claimed_output, staging
from ..provenance import package_versions, write_provenance
from ..sinks import ParquetSink
from ..sources.inputs import LocalFile
from .cache import AnswerCache
from .client import ChatClient, RetryPolicy
from .records import Rows
from .usage import Ledger, Price

T = TypeVar("T")
R = TypeVar("R")
FAILURE_EXAMPLES = 5
WRITE_ROWS = 256


@dataclass
class RunOptions:
    """How to talk to the endpoints, where answers are kept, and what to do with failures."""

    concurrency: int = 8
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    cache_dir: Path | None = None  # default: OUTPUT.cache beside the output folder
    use_cache: bool = True
    resume: bool = False
    on_error: str = "fail"  # bad input rows and requests that fail for good: stop, or skip and count
    overwrite: bool = False
    force_overwrite: bool = False  # replace a non-empty folder that is not an earlier output (deleting it)
    progress: bool = True
    console: Console | None = None
    prices: dict[str, Price] = field(default_factory=dict)

    def cache_folder(self, output: Path) -> Path | None:
        if not self.use_cache:
            return None
        return self.cache_dir or output.resolve().parent / f"{output.resolve().name}.cache"

    def describe(self) -> dict[str, Any]:
        """The options that shape requests (not paths or display), for provenance."""
        return {
            "concurrency": self.concurrency,
            "max_retries": self.policy.max_retries,
            "timeout_s": self.policy.timeout,
            "on_error": self.on_error,
        }


@dataclass
class Failures:
    """Requests that failed for good under ``on_error="skip"``: a count and the first few reasons."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, reason: str) -> None:
        self.count += 1
        if len(self.examples) < FAILURE_EXAMPLES:
            self.examples.append(reason)

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "examples": list(self.examples)}


@dataclass
class FeedbackResult:
    """What a run wrote, and what it cost."""

    output: Path
    rows: int
    rejected: int
    usage: dict[str, Any]
    provenance: dict[str, Any]


@dataclass
class Job:
    """One command's part: its rows, how to turn one into an output row, and its provenance."""

    command: str
    rows: Rows[Any]
    schema: pa.Schema
    work: Callable[[ChatClient, Any], Awaitable[dict[str, Any] | None]]
    record: Callable[[], dict[str, Any]]  # called after the run: the command's own provenance fields
    write_card: Callable[[Path, dict[str, Any]], None]
    failures: Failures


def run_job(job: Job, output: Path, options: RunOptions, ledger: Ledger) -> FeedbackResult:
    """Check the rows, run the requests, write OUTPUT (data, provenance, card) atomically."""
    output = Path(output)
    cache_folder = _cache_folder(output, options)
    # A folder that holds an input or the cache is never replaced (replacing it would delete them).
    inputs = [ref.path for ref in job.rows.refs if isinstance(ref, LocalFile)]
    inputs += [cache_folder] if cache_folder is not None else []
    overwrite, force = options.overwrite, options.force_overwrite
    cache: AnswerCache | None = None
    with (
        claimed_output(output, overwrite=overwrite, force=force, inputs=inputs),
        contextlib.ExitStack() as closing,  # the cache, closed after the commit
        staging(output, overwrite=overwrite, force=force) as stage,
    ):
        folder = DatasetFolder(stage)
        rejects_path = folder.rejects
        with rejects_path.open("w", encoding="utf-8") as rejects:
            total = job.rows.check(rejects)
        if job.rows.rejected == 0:
            rejects_path.unlink()
        if cache_folder is not None:  # after the input is known good
            cache = closing.enter_context(contextlib.closing(AnswerCache(cache_folder)))
        sink = ParquetSink(folder.data, "train", job.schema)
        asyncio.run(_run(job, sink, total, cache, options, ledger))
        sink.close()
        if sink.rows == 0:
            first = f" (the first: {job.failures.examples[0]})" if job.failures.examples else ""
            raise DistillDataError(f"no rows to write: {job.failures.count} requests failed for good{first}")
        record = {
            "command": job.command,
            "inputs": job.rows.describe(),
            "rows_read": total,
            "rejected": job.rows.rejected,
            **job.record(),
            "options": options.describe(),
            "cache": {"enabled": cache is not None, "resumed": options.resume},
            "usage": ledger.to_dict(),
            "splits": {"train": sink.rows},
            "columns": job.schema.names,
            "packages": {**package_versions(), "httpx": _version("httpx")},
        }
        write_provenance(folder.provenance, record)
        job.write_card(stage, record)
    return FeedbackResult(output, sink.rows, job.rows.rejected, ledger.to_dict(), record)


def _cache_folder(output: Path, options: RunOptions) -> Path | None:
    """Where the cache is; with ``--resume`` it must already be there."""
    folder = options.cache_folder(output)
    if options.resume and (folder is None or not AnswerCache.exists(folder)):
        where = "--no-cache was given" if folder is None else f"no cache at {folder}"
        raise ConfigError(f"--resume: nothing to resume from ({where}; --cache-dir names another cache)")
    return folder


async def _run(
    job: Job, sink: ParquetSink, total: int, cache: AnswerCache | None, options: RunOptions, ledger: Ledger
) -> None:
    lookahead = max(4 * options.concurrency, 16)
    async with ChatClient(concurrency=options.concurrency, policy=options.policy, cache=cache, ledger=ledger) as client:
        with _progress(options) as progress:
            task = progress.add_task(job.command, total=total)

            async def work(row: Any) -> dict[str, Any] | None:
                try:
                    return await job.work(client, row)
                finally:
                    progress.advance(task)

            done: list[dict[str, Any]] = []
            async for result in ordered(iter(job.rows), work, lookahead):
                if result is not None:
                    done.append(result)
                if len(done) >= WRITE_ROWS:
                    sink.write(pa.Table.from_pylist(done, schema=job.schema))
                    done = []
            if done:
                sink.write(pa.Table.from_pylist(done, schema=job.schema))


async def ordered(items: Iterable[T], work: Callable[[T], Awaitable[R]], lookahead: int) -> AsyncIterator[R]:
    """``work(item)`` for every item, up to ``lookahead`` at a time, results in input order."""
    pending: deque[asyncio.Task[R]] = deque()
    try:
        for item in items:
            pending.append(asyncio.ensure_future(work(item)))
            if len(pending) >= lookahead:
                yield await pending.popleft()
        while pending:
            yield await pending.popleft()
    finally:
        for left in pending:
            left.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


class RateColumn(ProgressColumn):
    """Rows per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f}/s" if speed else "-/s", style="progress.data.speed")


def _progress(options: RunOptions) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("prompts"),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=options.console or Console(stderr=True),
        disable=not options.progress,
    )


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
