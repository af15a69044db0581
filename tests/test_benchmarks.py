"""The benchmark scripts run at a tiny size: they must keep working (they print figures, nothing is asserted
about speed)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        ("bench.py", ["--rows", "300"], ["baseline: datasets.map", "distill-data ultrachat --filter", "dedup alone"]),
        (
            "bench_binarize.py",
            ["--rows", "300"],
            ["baseline: datasets.map", "distill-data binarize", "source alone", "read_json alone", "sha256"],
        ),
        (
            "bench_dedup_decontam.py",
            ["--rows", "300", "--contaminate", "0.05"],
            ["baseline: 13-gram set", "decontaminate", "baseline: datasketch", "near_dedup"],
        ),
        ("train_throughput.py", ["--size", "tiny", "--steps", "3", "--max-length", "256"], ["sft", "dpo", "recipe"]),
    ],
)
def test_benchmark_script_runs(script: str, args: list[str], expected: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for text in expected:
        assert text in done.stdout
    assert "failed" not in done.stdout
