"""Running steps over one batch, counting rows in and out: the one implementation, shared by
:class:`~distill_data.pipeline.Pipeline` in this process and by the engines' workers (which must not import the
pipeline, so it lives apart from both)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from .processors.base import Processor, StepStats


def run_steps(
    steps: Sequence[Processor], batch: pa.Table, stats: Sequence[StepStats] | None = None
) -> tuple[pa.Table, list[StepStats]]:
    """Run ``steps`` over one batch; the processed batch and the per-step statistics.

    Given ``stats`` (one per step), the counts add up in them over a stream (a pipeline's totals); without, they
    are of this batch alone (what a worker sends back). Once a batch is empty, the later steps do not see it.
    """
    stats = [StepStats(step.name) for step in steps] if stats is None else list(stats)
    for step, step_stats in zip(steps, stats, strict=True):
        if not len(batch):
            break
        step_stats.rows_in += len(batch)
        batch = step.process(batch, step_stats)
        step_stats.rows_out += len(batch)
    return batch, stats
