"""The Ray engine: the stateless head of a pipeline on Ray actors, on this machine or across a cluster.

Each actor rebuilds the steps once (as the local engine's worker processes do) and processes whole Arrow
batches sent through Ray's object store. The driver keeps a bounded window of batches in flight and takes
the results back in submission order, so the output is byte-identical to the local engine's.

The driver still reads the input and writes the output: a cluster adds cores for the per-row work (ftfy,
truecasing, language ID), which is where the time goes. Every node needs the same ``distill-data[ray]``
installed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..errors import ConfigError
from ..processors.base import Processor, StepStats
from ..steps import run_steps
from .local import start_steps


class _HeadActor:
    """Holds the rebuilt steps for the whole run (their setup, such as loading a language profile, runs once)."""

    def __init__(self, step_dicts: list[dict[str, Any]]) -> None:
        self.steps = start_steps(step_dicts)

    def process(self, batch: pa.Table) -> tuple[pa.Table, list[StepStats]]:
        return run_steps(self.steps, batch)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--engine ray needs Ray: pip install 'distill-data[ray]'") from None
    return ray


@dataclass
class RayEngine:
    """``workers`` single-CPU actors on the Ray cluster this process is connected to."""

    workers: int

    @classmethod
    def connect(cls, workers: int | None, address: str | None) -> RayEngine:
        """Join the cluster at ``address`` (or the one already joined), else start a local Ray of ``workers`` CPUs."""
        ray = _ray()
        if not ray.is_initialized():
            local = address is None
            try:
                ray.init(
                    address=address,
                    num_cpus=workers if local else None,
                    include_dashboard=False,
                    logging_level=logging.WARNING,
                )
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise ConfigError(f"cannot start or join Ray at {address or 'a new local instance'}: {exc}") from None
        cpus = int(ray.cluster_resources().get("CPU", 1))
        return cls(max(1, workers or cpus))

    def map_batches(
        self, steps: list[Processor], batches: Iterable[pa.Table]
    ) -> Iterator[tuple[pa.Table, list[StepStats]]]:
        """``(processed batch, per-step stats of that batch)`` for each batch, in input order."""
        ray = _ray()
        from ray.util import ActorPool

        actor = ray.remote(num_cpus=1)(_HeadActor)
        step_dicts = [step.to_dict() for step in steps]
        actors = [actor.remote(step_dicts) for _ in range(self.workers)]
        pool = ActorPool(actors)
        window = 2 * self.workers  # every actor busy, one more batch queued behind each
        pending = 0
        try:
            for batch in batches:
                pool.submit(lambda a, b: a.process.remote(b), batch)
                pending += 1
                if pending > window:
                    yield _result(ray, pool)
                    pending -= 1
            while pending:
                yield _result(ray, pool)
                pending -= 1
        finally:
            for handle in actors:
                ray.kill(handle)


def _result(ray: Any, pool: Any) -> tuple[pa.Table, list[StepStats]]:
    """The next result in order; a step's own error is raised as itself, not wrapped by Ray."""
    try:
        return pool.get_next()
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise
