"""Engines: where the stateless head of a pipeline runs.

The driver always reads the input, runs the stateful steps (dedup) and writes the output, in input order.
An engine only maps batches through the leading stateless steps and hands back, in input order, each
processed batch with the statistics of that batch. So the output is byte-identical whatever the engine and
the number of workers: ``local`` (processes on this machine) or ``ray`` (actors on a Ray cluster).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the CLI reads ENGINES at start-up, before Arrow is imported
    import pyarrow as pa

    from ..processors.base import Processor, StepStats

ENGINES = ("local", "ray")
MIN_BATCHES = 4
MIN_BATCH_ROWS = 1_000


def batch_rows(batch_size: int, expected_rows: int | None) -> int:
    """Rows per batch: at most ``batch_size``; an input of fewer than ``MIN_BATCHES`` full batches is cut into
    ``MIN_BATCHES`` of at least ``MIN_BATCH_ROWS`` rows, so two workers each start on a small batch early and finish
    together (20,000 rows: 4 batches of 5,000, not 2 of 10,000, 0.3 s sooner on two cores).

    A function of the option and the input alone, not of the workers: a resumed run cuts the same batches on any
    engine. The output does not depend on it.
    """
    if expected_rows is None or expected_rows >= MIN_BATCHES * batch_size:
        return batch_size
    return min(batch_size, max(MIN_BATCH_ROWS, -(-expected_rows // MIN_BATCHES)))


class Engine(Protocol):
    """Maps batches through steps on workers, yielding ``(batch, per-step stats of that batch)`` in order."""

    workers: int

    def map_batches(
        self, steps: list[Processor], batches: Iterable[pa.Table]
    ) -> Iterator[tuple[pa.Table, list[StepStats]]]: ...


def make_engine(
    name: str, workers: int | None, ray_address: str | None = None, *, one_batch: bool = False
) -> Engine | None:
    """The engine called ``name`` with ``workers`` workers (default: all cores of this machine or cluster), or
    None where the pipeline is better run in the calling process: locally with one worker, or on an input of
    ``one_batch`` (worker processes would cost more than they save). ``ray_address``: the Ray cluster to join."""
    if name == "local":
        if one_batch or (workers or os.cpu_count() or 1) <= 1:
            return None
        from .local import LocalEngine

        return LocalEngine.with_workers(workers)
    if name == "ray":
        from .ray import RayEngine

        return RayEngine.connect(workers, ray_address)
    from ..errors import ConfigError

    raise ConfigError(f"unknown engine {name!r}; expected one of: {', '.join(ENGINES)}")


__all__ = ["ENGINES", "Engine", "batch_rows", "make_engine"]
