"""Run the stateless head of a pipeline on worker processes, batch by batch, in input order.

Workers rebuild the steps from their parameters, process whole batches and send back the rows and the step
statistics of each batch; the caller merges them in batch order, so the result (rows, counts, examples) is
the same as in one process, whatever the number of workers.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from .pipeline import Pipeline
from .processors.base import Processor, StepStats, processor_from_dict

_head: Pipeline | None = None


def _start(step_dicts: list[dict[str, Any]]) -> None:
    global _head
    _head = Pipeline([processor_from_dict(entry) for entry in step_dicts])
    for step in _head.steps:
        step.setup()


def _process(batch: pa.Table) -> tuple[pa.Table, list[StepStats]]:
    """One batch through the worker's steps, with the statistics of that batch alone."""
    assert _head is not None, "worker not started"
    _head.stats = [StepStats(step.name) for step in _head.steps]
    return _head.process_batch(batch), _head.stats


def map_batches(
    steps: list[Processor], batches: Iterable[pa.Table], workers: int
) -> Iterator[tuple[pa.Table, list[StepStats]]]:
    """``(processed batch, per-step stats of that batch)`` for each batch, in input order."""
    context = multiprocessing.get_context("spawn")  # no fork: polars and Arrow run thread pools
    with context.Pool(workers, initializer=_start, initargs=([step.to_dict() for step in steps],)) as pool:
        # A bounded window of batches in flight (Pool.imap would read the whole input ahead into memory).
        in_flight: deque[Any] = deque()
        for batch in batches:
            in_flight.append(pool.apply_async(_process, (batch,)))
            if len(in_flight) > workers:
                yield in_flight.popleft().get()
        while in_flight:
            yield in_flight.popleft().get()
