"""The local engine: batches come back in input order, and an error in the input never leaves the run hanging."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest

from distill_data.engines import batch_rows
from distill_data.engines.local import PRELOAD, LocalEngine
from distill_data.processors.fix_text import FixText


def test_batches_come_back_in_input_order_with_their_own_stats() -> None:
    batches = [pa.table({"prompt": [f"p{i}", f"p{i}"], "id": [2 * i, 2 * i + 1]}) for i in range(7)]
    results = list(LocalEngine(2).map_batches([], batches))
    assert [table["id"].to_pylist() for table, _ in results] == [[2 * i, 2 * i + 1] for i in range(7)]
    assert all(stats == [] for _, stats in results)


def test_every_preloaded_module_exists() -> None:
    """The fork server skips a module it cannot import without a word: a misspelt name would only cost speed."""
    for name in PRELOAD:
        importlib.import_module(name)


def test_steps_run_in_the_workers() -> None:
    messages = [[{"role": "user", "content": f"doesnâ€™t {i}"}] for i in range(3)]
    batches = [pa.table({"messages": [turns]}) for turns in messages]
    results = list(LocalEngine(2).map_batches([FixText()], batches))
    assert [table["messages"].to_pylist()[0][0]["content"] for table, _ in results] == [
        f"doesn’t {i}" for i in range(3)
    ]
    assert [(stats[0].name, stats[0].rows_in) for _, stats in results] == [("fix_text", 1)] * 3


# Each trial feeds one large batch (2 MB, more than a pipe's buffer), then the input fails. With
# multiprocessing's Pool.terminate() this hung for good in about half of such runs of 5 trials (its task thread
# stuck writing the batch after the workers died); CI ran out of time on it.
FAILING_INPUT = textwrap.dedent(
    """
    import pyarrow as pa
    from distill_data.engines.local import LocalEngine

    class BadRow(Exception):
        pass

    def batches():
        yield pa.table({"x": ["a" * 1_000_000] * 2})
        raise BadRow("line 2")

    if __name__ == "__main__":
        for trial in range(8):
            try:
                for _ in LocalEngine(2).map_batches([], batches()):
                    pass
            except BadRow:
                print("stopped", trial, flush=True)
    """
)


def test_an_error_in_the_input_stops_the_workers_without_hanging(tmp_path) -> None:
    script = tmp_path / "failing_input.py"
    script.write_text(FAILING_INPUT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:-1] == [f"stopped {trial}" for trial in range(8)]


def test_a_consumer_that_stops_early_leaves_no_worker_behind() -> None:
    import multiprocessing

    batches = (pa.table({"x": [i]}) for i in range(50))
    results = LocalEngine(2).map_batches([], batches)
    first, _ = next(results)
    results.close()
    assert first["x"].to_pylist() == [0]
    assert multiprocessing.active_children() == []


def test_make_engine_runs_a_local_pipeline_in_process_for_one_batch_or_one_worker() -> None:
    from distill_data.engines import make_engine

    assert make_engine("local", 1) is None
    assert make_engine("local", 4, one_batch=True) is None
    engine = make_engine("local", 3)
    assert isinstance(engine, LocalEngine) and engine.workers == 3


@pytest.mark.parametrize(
    ("batch_size", "expected", "rows"),
    [
        (10_000, 20_000, 5_000),  # two batches' worth becomes four
        (10_000, 30_001, 7_501),
        (10_000, 40_000, 10_000),  # four full batches: as asked
        (10_000, 1_000_000, 10_000),
        (10_000, None, 10_000),  # size unknown (a streamed Hub dataset): as asked
        (10_000, 2_000, 1_000),  # never below 1,000 rows...
        (10_000, 100, 1_000),
        (300, 100_000, 300),  # ...and never above what was asked
        (1, 10, 1),
    ],
)
def test_batches_of_a_small_input_are_cut_for_the_workers(batch_size: int, expected: int | None, rows: int) -> None:
    assert batch_rows(batch_size, expected) == rows
