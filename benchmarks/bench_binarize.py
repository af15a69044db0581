"""Benchmark: `distill-data binarize` against a straightforward `datasets.map` implementation.

Prints rows/s and peak RSS for both, measured in separate processes in the same run, on a generated raw
UltraFeedback corpus (``distill_data.synthetic.ultrafeedback_rows``). Usage:

    python benchmarks/bench_binarize.py [--rows 64000]

The baseline is what the original scripts did: load the JSON with `datasets`, then a per-row Python
function over the nested completions (mean rating, best, a random other) in `Dataset.map`, a `filter` for
rows without a pair, and `to_parquet`. Both write Parquet, so the figures are end to end; the "core"
column times the binarization step alone on data already in memory. Reference rows show what reading the
file costs by itself (our source; Arrow's reader with nothing checked; the sha256 that provenance records):
an end-to-end rate cannot beat the first two.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_corpus(path: Path, rows: int) -> None:
    from distill_data.synthetic import ultrafeedback_rows

    with path.open("w", encoding="utf-8") as handle:
        for row in ultrafeedback_rows(rows, seed=0):
            handle.write(json.dumps(row) + "\n")


def run_ours(corpus: Path, out: Path) -> float:
    from distill_data import build
    from distill_data.recipes import binarize_recipe

    start = time.perf_counter()
    build(binarize_recipe([str(corpus)], test_size=0.03), out, overwrite=True, progress=False)
    return time.perf_counter() - start


def run_ours_core(corpus: Path, out: Path) -> float:
    import pyarrow as pa

    from distill_data.processors import Binarize, StepStats
    from distill_data.sources.ultrafeedback import UltraFeedbackSource

    table = pa.concat_tables(UltraFeedbackSource([str(corpus)]).batches()).combine_chunks()
    start = time.perf_counter()
    Binarize().process(table, StepStats("binarize"))
    return time.perf_counter() - start


def _baseline_binarize(example: dict, seed: int) -> dict:
    scored = []
    for completion in example["completions"]:
        ratings = [
            float(a["Rating"]) for a in completion["annotations"].values() if a and a["Rating"] not in (None, "N/A")
        ]
        if ratings and completion["response"].strip():
            scored.append((sum(ratings) / len(ratings), completion))
    if len(scored) < 2:
        return {
            "prompt": example["instruction"],
            "chosen": None,
            "rejected": None,
            "score_chosen": None,
            "score_rejected": None,
        }
    best = max(range(len(scored)), key=lambda i: (scored[i][0], -i))
    rng = random.Random(f"{seed}:{example['instruction']}")
    other = rng.choice([i for i in range(len(scored)) if i != best])
    prompt = {"content": example["instruction"], "role": "user"}
    return {
        "prompt": example["instruction"],
        "chosen": [prompt, {"content": scored[best][1]["response"], "role": "assistant"}],
        "rejected": [prompt, {"content": scored[other][1]["response"], "role": "assistant"}],
        "score_chosen": scored[best][0],
        "score_rejected": scored[other][0],
    }


def _baseline(corpus: Path, out: Path, core_only: bool) -> float:
    import datasets

    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        raw = datasets.load_dataset("json", data_files=str(corpus), split="train", cache_dir=cache)
        if core_only:
            start = time.perf_counter()
        pairs = raw.map(_baseline_binarize, fn_kwargs={"seed": 42}, remove_columns=raw.column_names)
        pairs = pairs.filter(lambda row: row["chosen"] is not None)
        if core_only:
            return time.perf_counter() - start
        out.mkdir(parents=True, exist_ok=True)
        pairs.to_parquet(str(out / "train_prefs.parquet"))
        return time.perf_counter() - start


def read_source(corpus: Path, out: Path) -> float:
    """Our source alone: the raw rows read, validated and converted (the first part of every build)."""
    from distill_data.sources.ultrafeedback import UltraFeedbackSource

    start = time.perf_counter()
    for _ in UltraFeedbackSource([str(corpus)]).batches():
        pass
    return time.perf_counter() - start


def read_arrow(corpus: Path, out: Path) -> float:
    """Arrow's C++ JSON reader on all cores, nothing checked: a floor no build of this file goes under."""
    import pyarrow.json as pj

    start = time.perf_counter()
    pj.read_json(corpus)
    return time.perf_counter() - start


def checksum(corpus: Path, out: Path) -> float:
    """sha256 of the file, which provenance records (a build does it on a thread beside the rest)."""
    from distill_data.sources.inputs import file_sha256

    start = time.perf_counter()
    file_sha256(corpus)
    return time.perf_counter() - start


VARIANTS = {
    "baseline": lambda corpus, out: _baseline(corpus, out, core_only=False),
    "baseline-core": lambda corpus, out: _baseline(corpus, out, core_only=True),
    "ours": run_ours,
    "ours-core": run_ours_core,
    "read-source": read_source,
    "read-arrow": read_arrow,
    "checksum": checksum,
}
REFERENCES = {
    "read-source": "distill-data's source alone (read, check, convert)",
    "read-arrow": "pyarrow.json.read_json alone (nothing checked)",
    "checksum": "sha256 of the file alone",
}


def child(variant: str, corpus: Path, out: Path) -> None:
    seconds = VARIANTS[variant](corpus, out)
    print(json.dumps({"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure(variant: str, corpus: Path, out: Path) -> dict[str, float]:
    """Run one variant in a fresh process, so its peak RSS is its own."""
    command = [sys.executable, __file__, "--child", variant, "--corpus", str(corpus), "--out", str(out)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=64_000)
    parser.add_argument("--child", choices=sorted(VARIANTS))
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.corpus, args.out)
        return
    with tempfile.TemporaryDirectory() as work:
        corpus = Path(work) / "ultrafeedback.jsonl"
        make_corpus(corpus, args.rows)
        print(f"corpus: {args.rows:,} raw UltraFeedback rows, {corpus.stat().st_size / 1e6:,.0f} MB of JSON Lines")
        print(f"{'implementation':<34}{'rows/s end to end':>19}{'peak RSS':>11}{'rows/s binarize step':>23}")
        for variant, label in (("baseline", "baseline: datasets.map (per row)"), ("ours", "distill-data binarize")):
            total = measure(variant, corpus, Path(work) / variant)
            core = measure(f"{variant}-core", corpus, Path(work) / variant)
            print(
                f"{label:<34}{args.rows / total['seconds']:>19,.0f}{total['peak_rss_mb']:>8,.0f} MB"
                f"{args.rows / core['seconds']:>23,.0f}"
            )
        print("for reference, on the same file (rows/s):")
        for variant, label in REFERENCES.items():
            print(f"  {label:<54}{args.rows / measure(variant, corpus, Path(work) / variant)['seconds']:>9,.0f}")


if __name__ == "__main__":
    main()
