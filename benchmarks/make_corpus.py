"""Write a deterministic, realistic raw corpus of any size: UltraChat dialogues or UltraFeedback rows.

    python benchmarks/make_corpus.py ultrachat --rows 1470000 --output corpus/ultrachat.jsonl
    python benchmarks/make_corpus.py ultrafeedback --rows 64000 --output corpus/ultrafeedback.jsonl
    python benchmarks/make_corpus.py ultrachat-varied --rows 20000 --output corpus/varied.jsonl

Rows come from ``distill_data.synthetic`` (several turns with long assistant replies; a share of disclaimers,
lowercase sentence starts, mojibake, HTML entities, non-English prompts, duplicates and empty turns for
UltraChat; four rated completions with ties, "N/A" ratings and TruthfulQA rows for UltraFeedback).
``ultrachat-varied`` (``varied_corpus.py``) is held-out text for speed measurements: assembled word by word, not
from the templates the tests and samples use, with other languages, code and lowercase prose. The same kind,
size and seed always give the same bytes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from distill_data.synthetic import ultrachat_rows, ultrafeedback_rows

try:
    from varied_corpus import varied_ultrachat_rows
except ImportError:  # imported as benchmarks.make_corpus
    from .varied_corpus import varied_ultrachat_rows

GENERATORS = {
    "ultrachat": ultrachat_rows,
    "ultrafeedback": ultrafeedback_rows,
    "ultrachat-varied": varied_ultrachat_rows,
}


def make_corpus(kind: str, rows: int, output: Path, seed: int = 0) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as handle:
        for row in GENERATORS[kind](rows, seed=seed):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(GENERATORS))
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = make_corpus(args.kind, args.rows, args.output, args.seed)
    print(f"{path}: {args.rows:,} {args.kind} rows, {path.stat().st_size / 1e6:,.1f} MB")


if __name__ == "__main__":
    main()
