"""Benchmark: a source's reading alone, its columnar fast path against the row-by-row reader, in one run.

Each reader iterates every batch of the same raw file in a fresh process (so its peak RSS is its own), several
times over; the rows/s range and peak RSS of each are printed, and the batches of both must be the same. Usage:

    python benchmarks/bench_reading.py ultrachat --corpus /tmp/uc20k.jsonl --repeat 3
    python benchmarks/bench_reading.py ultrafeedback --rows 20000

Without ``--corpus``, a corpus of ``--rows`` rows is generated (``make_corpus.py``: ``ultrachat-varied`` for
UltraChat). The machine may be shared: read the ranges, not one figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CORPUS_KINDS = {"ultrachat": "ultrachat-varied", "ultrafeedback": "ultrafeedback"}


def _source(kind: str, corpus: Path) -> Any:
    if kind == "ultrachat":
        from distill_data.sources.ultrachat import UltraChatSource

        return UltraChatSource([str(corpus)])
    from distill_data.sources.ultrafeedback import UltraFeedbackSource

    return UltraFeedbackSource([str(corpus)])


def child(kind: str, reader: str, corpus: Path) -> None:
    """Read every batch, timed; then a digest of the rows (untimed), to compare the two readers."""
    source = _source(kind, corpus)
    if reader == "rows":
        source.columnar = None
    start = time.perf_counter()
    batches = list(source.batches())
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    digest = hashlib.sha256()
    for batch in batches:
        digest.update(json.dumps(batch.to_pylist(), ensure_ascii=False).encode("utf-8", "surrogatepass"))
    rows = sum(batch.num_rows for batch in batches)
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss_mb": peak, "digest": digest.hexdigest()}))


def measure(kind: str, reader: str, corpus: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, kind, "--child", reader, "--corpus", str(corpus)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(CORPUS_KINDS))
    parser.add_argument("--corpus", type=Path, help="a raw file to read (default: generate one)")
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the generated corpus")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=["fast", "rows"])
    args = parser.parse_args()
    if args.child:
        child(args.kind, args.child, args.corpus)
        return
    with tempfile.TemporaryDirectory() as work:
        corpus = args.corpus
        if corpus is None:
            sys.path.insert(0, str(Path(__file__).parent))
            from make_corpus import make_corpus

            corpus = make_corpus(CORPUS_KINDS[args.kind], args.rows, Path(work) / "corpus.jsonl")
        print(f"corpus: {corpus} ({corpus.stat().st_size / 1e6:,.1f} MB)")
        print(f"{'reader':<30}{'rows/s (min-max)':>24}{'seconds (min-max)':>22}{'peak RSS':>11}")
        digests = set()
        for reader, label in (("rows", "row by row (json.loads)"), ("fast", "columnar fast path")):
            runs = [measure(args.kind, reader, corpus) for _ in range(args.repeat)]
            digests.update(run["digest"] for run in runs)
            rates = [run["rows"] / run["seconds"] for run in runs]
            seconds = [run["seconds"] for run in runs]
            peak = max(run["peak_rss_mb"] for run in runs)
            print(
                f"{label:<30}{min(rates):>11,.0f} - {max(rates):>10,.0f}"
                f"{min(seconds):>11.2f} - {max(seconds):>8.2f}{peak:>8,.0f} MB"
            )
        print("same rows and batches from both readers:", "yes" if len(digests) == 1 else "NO")


if __name__ == "__main__":
    main()
