"""Benchmark: how long `distill-data ... --help` takes to answer, beside what the interpreter and the pipeline's
imports cost alone (the baselines), in the same run.

    python benchmarks/bench_startup.py [--repeats 7]

Each line is the median wall time of ``--repeats`` fresh processes, and the peak RSS of the last one:
- ``python -c pass``: the interpreter alone, the floor;
- ``import distill_data.builder``: the data pipeline's imports (Arrow, polars, datasets...), which the CLI used
  to import at start-up;
- every command's ``--help``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = [
    [],
    ["ultrachat"],
    ["binarize"],
    ["run"],
    ["card"],
    ["push"],
    ["check"],
    ["generate"],
    ["rate"],
    ["train", "sft"],
    ["train", "dpo"],
]


# Runs a command as its only child and prints that child's peak RSS (KB).
PEAK = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def timed(args: list[str], repeats: int) -> tuple[float, float]:
    """Median seconds over ``repeats`` runs, and the peak RSS (MB) of one more run."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    peak = subprocess.run([sys.executable, "-c", PEAK, *args], check=True, capture_output=True, text=True).stdout
    return statistics.median(times), int(peak) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats
    rows = [
        ("baseline: python -c pass", [sys.executable, "-c", "pass"]),
        ("baseline: import distill_data.builder", [sys.executable, "-c", "import distill_data.builder"]),
    ]
    rows += [
        (
            f"distill-data {' '.join(c)} --help".replace("  ", " "),
            [sys.executable, "-m", "distill_data.cli", *c, "--help"],
        )
        for c in COMMANDS
    ]
    print(f"{'what':<44} {'median s':>9} {'peak RSS MB':>12}")
    for name, args in rows:
        seconds, peak = timed(args, repeats)
        print(f"{name:<44} {seconds:>9.3f} {peak:>12.0f}")


if __name__ == "__main__":
    main()
