"""run_steps: the one way steps run over a batch, in a pipeline and in an engine's workers alike."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa

from distill_data.pipeline import Pipeline
from distill_data.processors.fix_text import FixText
from distill_data.processors.structure import StructureFilter
from distill_data.steps import run_steps


def _batch(lengths: list[int]) -> pa.Table:
    """Dialogues of ``2 + length`` characters: a structure filter with ``max_chars=5`` keeps those up to 3."""
    return pa.table(
        {"messages": [[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x" * n}] for n in lengths]}
    )


def test_without_stats_the_counts_are_of_the_batch_alone() -> None:
    steps = [StructureFilter(max_chars=5), FixText()]
    batch, stats = run_steps(steps, _batch([1, 3, 9]))
    assert len(batch) == 2
    assert [(s.name, s.rows_in, s.rows_out) for s in stats] == [("structure_filter", 3, 2), ("fix_text", 2, 2)]


def test_given_stats_add_up_and_an_empty_batch_stops_before_the_later_steps() -> None:
    steps = [StructureFilter(max_chars=5), FixText()]
    _, stats = run_steps(steps, _batch([2]))
    batch, same = run_steps(steps, _batch([7, 8]), stats)
    assert len(batch) == 0 and all(a is b for a, b in zip(same, stats, strict=True))
    assert [(s.rows_in, s.rows_out) for s in stats] == [(3, 1), (1, 1)]


def test_the_pipeline_counts_as_run_steps_does() -> None:
    steps = [StructureFilter(max_chars=5), FixText()]
    pipeline = Pipeline(steps)
    for lengths in ([1, 3, 9], [4], [2]):
        pipeline.process_batch(_batch(lengths))
    _, alone = run_steps(steps, _batch([1, 3, 9, 4, 2]))
    assert [s.to_dict() for s in pipeline.stats] == [s.to_dict() for s in alone]


def test_the_engines_do_not_import_the_pipeline() -> None:
    code = (
        "import sys, distill_data.engines.local, distill_data.engines.ray\n"
        "print('distill_data.pipeline' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
