"""Pipeline: check every step's packages and column contracts, then run the steps over Arrow batches and count."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from rich.console import Console

from .errors import ContractError
from .processors.base import Processor, StepStats, processor_from_dict
from .processors.requires import check_installed
from .progress import progress_bar
from .steps import run_steps

if TYPE_CHECKING:
    from .engines import Engine


class Pipeline:
    """An ordered list of processors.

    >>> from distill_data.processors import PromptId, Dedup
    >>> Pipeline([Dedup(), PromptId()]).check(["id", "messages"])
    Traceback (most recent call last):
    ...
    distill_data.errors.ContractError: step 1 (dedup) reads column 'prompt', which neither the input \
(id, messages) nor an earlier step provides
    """

    def __init__(self, steps: Sequence[Processor]) -> None:
        self.steps = list(steps)
        self.stats = [StepStats(step.name) for step in self.steps]

    def check(self, columns: Iterable[str]) -> list[str]:
        """Before any work: raise :class:`~distill_data.errors.MissingPackageError` if a step needs a package that
        is not installed, :class:`ContractError` if a step reads a missing column; return the final columns."""
        self.check_packages()
        source = list(columns)
        available = list(source)
        for number, step in enumerate(self.steps, start=1):
            for column in step.inputs:
                if column not in available:
                    raise ContractError(
                        f"step {number} ({step.name}) reads column '{column}', which neither the input "
                        f"({', '.join(source)}) nor an earlier step provides"
                    )
            available = [c for c in available if c not in step.removes]
            available.extend(c for c in step.outputs if c not in available)
        return available

    def check_packages(self) -> None:
        """Raise :class:`~distill_data.errors.MissingPackageError` naming the first step whose ``requires`` names
        a package that is not installed."""
        for number, step in enumerate(self.steps, start=1):
            check_installed(step.requires, f"step {number} ({step.name})")

    def run(
        self,
        batches: Iterable[pa.Table],
        *,
        total_rows: int | None = None,
        progress: bool = True,
        console: Console | None = None,
        engine: Engine | None = None,
        state: dict[str, Any] | None = None,
        yield_empty: bool = False,
    ) -> Iterator[pa.Table]:
        """Yield each processed batch (empty ones too with ``yield_empty``); :attr:`stats` fills in as it goes.

        With an ``engine`` the leading stateless steps run on its workers; stateful steps (dedup) run here, in
        input order. The output is the same with any engine or none. ``state`` (from :meth:`snapshot`) continues
        an earlier run whose batches so far are not given again.
        """
        self.check_packages()  # before setup, which may import them, and before the first batch is read
        self.stats = [StepStats(step.name) for step in self.steps]
        for step in self.steps:
            step.setup()
        if state is not None:
            self.stats = state["stats"]
            for index, step in state["steps"].items():
                self.steps[index] = step
        head = 0
        while engine is not None and head < len(self.steps) and not self.steps[head].stateful:
            head += 1
        with progress_bar(progress, console) as bar:
            task = bar.add_task("processing", total=total_rows)
            checked = _checked(batches, self)
            if engine is not None and head:
                for batch, head_stats in engine.map_batches(self.steps[:head], checked):
                    for mine, theirs in zip(self.stats[:head], head_stats, strict=True):
                        mine.merge(theirs)
                    batch = self.process_batch(batch, start=head)
                    bar.advance(task, head_stats[0].rows_in)
                    if len(batch) or yield_empty:
                        yield batch
                return
            for batch in checked:
                rows = len(batch)
                batch = self.process_batch(batch)
                bar.advance(task, rows)
                if len(batch) or yield_empty:
                    yield batch

    def process_batch(self, batch: pa.Table, start: int = 0) -> pa.Table:
        """Run the steps from ``start`` on one batch, adding to :attr:`stats`."""
        return run_steps(self.steps[start:], batch, self.stats[start:])[0]

    def snapshot(self) -> dict[str, Any]:
        """What a later :meth:`run` needs to continue this one: the statistics and the order-dependent steps."""
        return {"stats": self.stats, "steps": {i: step for i, step in enumerate(self.steps) if step.stateful}}

    @classmethod
    def from_list(cls, entries: Sequence[Any], where: str = "steps") -> Pipeline:
        return cls([processor_from_dict(entry, f"{where}[{i}]") for i, entry in enumerate(entries)])

    def stats_dicts(self) -> list[dict[str, Any]]:
        """Per step: name, parameters, rows in and out, drops per reason, examples and counters."""
        return [
            {
                "name": step.name,
                "params": step.params(),
                **{k: v for k, v in stats.to_dict().items() if k != "name"},
            }
            for step, stats in zip(self.steps, self.stats, strict=True)
        ]


def _checked(batches: Iterable[pa.Table], pipeline: Pipeline) -> Iterator[pa.Table]:
    """The batches, the column contracts checked against the first one before it is processed."""
    first = True
    for batch in batches:
        if first:
            pipeline.check(batch.column_names)
            first = False
        yield batch
