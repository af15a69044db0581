"""Benchmark: `ultrachat --filter`, `binarize` and each processor alone, beside a `datasets.map` baseline.

    python benchmarks/bench.py [--rows 20000] [--num-proc 2] [--corpus-kind varied|templated] [--ray]

The UltraChat corpus is by default the held-out varied one (``make_corpus.py ultrachat-varied``: text assembled word
by word, other languages, code, lowercase prose), not the templated rows the tests and samples use (``--corpus-kind
templated``), so no step is measured on text it was tuned on. Prints rows/s, the speed-up over the baseline and peak
RSS in one run; every measurement runs in its own process so its peak memory is its own
(the main process; with --num-proc the largest worker's peak is printed beside it). With --ray, also
`ultrachat --filter --engine ray` on a local Ray of --num-proc CPUs (its actors' memory is not counted).
The baseline is the straightforward implementation the original scripts used: `datasets.load_dataset("json")`,
then per-row Python functions in `Dataset.map`/`filter` for the same steps (ftfy, truecasing, the disclaimer
phrases, langdetect itself, dedup, sha256), then `to_parquet`. For binarize see also benchmarks/bench_binarize.py.
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

HERE = Path(__file__).resolve().parent


def _baseline_ultrachat(corpus: Path, out: Path) -> None:
    import datasets
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
    from langdetect.lang_detect_exception import LangDetectException

    from distill_data.processors import DEFAULT_PHRASES, FixText, normalise_prompt, truecase

    datasets.disable_progress_bars()
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.seed = 0

    def detect_language(text: str) -> str | None:
        detector = factory.create()  # a fresh seeded detector per text, as the filter does
        detector.append(text)
        try:
            return detector.get_probabilities()[0].lang
        except (LangDetectException, IndexError):
            return None

    fix = FixText().rewriter()
    phrases = [p.lower() for p in DEFAULT_PHRASES]
    seen: set[str] = set()

    def convert(row: dict) -> dict:
        turns = [truecase(fix(t)) for t in row["data"]]
        return {"messages": [{"content": t, "role": ("user", "assistant")[i % 2]} for i, t in enumerate(turns)]}

    def keep(row: dict) -> bool:
        messages = row["messages"]
        if len(messages) < 2 or any(not m["content"].strip() for m in messages):
            return False
        text = " ".join(m["content"] for m in messages if m["role"] == "assistant").lower().replace("’", "'")
        if any(p in text for p in phrases):
            return False
        return detect_language(messages[0]["content"][:1000]) == "en"

    def unique(row: dict) -> bool:
        key = normalise_prompt(row["messages"][0]["content"])
        if key in seen:
            return False
        seen.add(key)
        return True

    with tempfile.TemporaryDirectory() as cache:
        raw = datasets.load_dataset("json", data_files=str(corpus), split="train", cache_dir=cache)
        rows = raw.map(convert, remove_columns=raw.column_names).filter(keep).filter(unique)
        rows = rows.map(
            lambda r: {
                "prompt": r["messages"][0]["content"],
                "prompt_id": hashlib.sha256(r["messages"][0]["content"].encode()).hexdigest(),
            }
        )
        out.mkdir(parents=True, exist_ok=True)
        rows.to_parquet(str(out / "train.parquet"))


def _ours(command: list[str]) -> None:
    from click.testing import CliRunner

    from distill_data.cli import cli

    result = CliRunner().invoke(cli, command)
    if result.exit_code:
        raise SystemExit(result.output)


def _processor_alone(name: str, corpus: Path) -> int:
    """Rows through one processor, with the steps it depends on done before the clock starts."""
    import pyarrow as pa

    from distill_data import UltraChatSource
    from distill_data.processors import PromptId, StepStats, processor_from_dict

    table = pa.concat_tables(UltraChatSource([str(corpus)]).batches()).combine_chunks()
    if name == "dedup":
        table = PromptId().process(table, StepStats("prompt_id"))
    step = processor_from_dict(name)
    step.setup()
    start = time.perf_counter()
    for offset in range(0, len(table), 10_000):
        step.process(table.slice(offset, 10_000), StepStats(name))
    return int((time.perf_counter() - start) * 1e9)


def child(task: str, corpus: Path, work: Path, num_proc: int) -> None:
    start = time.perf_counter()
    if task == "baseline-ultrachat":
        _baseline_ultrachat(corpus, work / "baseline")
        seconds = time.perf_counter() - start
    elif task in ("ultrachat", "ultrachat-ray"):
        engine = ["--engine", "ray"] if task == "ultrachat-ray" else []
        out = str(work / task)
        common = ["--overwrite", "--no-progress", "--num-proc", str(num_proc)]
        _ours(["ultrachat", "--filter", "-i", str(corpus), "-o", out, *common, *engine])
        seconds = time.perf_counter() - start
    elif task == "binarize":
        _ours(
            [
                "binarize",
                "-i",
                str(corpus),
                "-o",
                str(work / "ours-bin"),
                "--overwrite",
                "--no-progress",
                "--num-proc",
                str(num_proc),
                "--test-size",
                "0.05",
            ]
        )
        seconds = time.perf_counter() - start
    else:
        seconds = _processor_alone(task.removeprefix("step:"), corpus) / 1e9
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _stop_fork_server()  # its workers are its children: they count once it is reaped
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest reaped worker
    print("RESULT " + json.dumps({"seconds": seconds, "peak_mb": peak, "worker_peak_mb": workers}))


def _stop_fork_server() -> None:
    """Stop the local engine's fork server, if one runs, and wait for it (a private call of multiprocessing: if it
    is gone, the worker peak is left blank rather than wrong)."""
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        stop()


def measure(task: str, corpus: Path, work: Path, num_proc: int) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        task,
        "--corpus",
        str(corpus),
        "--work",
        str(work),
        "--num-proc",
        str(num_proc),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument(
        "--corpus-kind", choices=["varied", "templated"], default="varied", help="The UltraChat corpus (see above)."
    )
    parser.add_argument("--skip-baseline", action="store_true", help="Leave out the (slow) baseline.")
    parser.add_argument("--ray", action="store_true", help="Also run the Ray engine (needs the ray extra).")
    parser.add_argument("--child")
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.corpus, args.work, args.num_proc)
        return
    sys.path.insert(0, str(HERE))
    from make_corpus import make_corpus

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        kind = "ultrachat-varied" if args.corpus_kind == "varied" else "ultrachat"
        ultrachat = make_corpus(kind, args.rows, work / "ultrachat.jsonl")
        ultrafeedback = make_corpus("ultrafeedback", args.rows, work / "ultrafeedback.jsonl")
        print(
            f"corpus: {args.rows:,} UltraChat dialogues ({args.corpus_kind}, "
            f"{ultrachat.stat().st_size / 1e6:,.0f} MB), "
            f"{args.rows:,} UltraFeedback rows ({ultrafeedback.stat().st_size / 1e6:,.0f} MB); "
            f"--num-proc {args.num_proc}"
        )
        print(f"{'what':<44}{'rows/s':>10}{'x baseline':>12}{'peak RSS':>12}{'worker peak':>14}")
        tasks = [("ultrachat", ultrachat, "distill-data ultrachat --filter")]
        if not args.skip_baseline:
            tasks.insert(0, ("baseline-ultrachat", ultrachat, "baseline: datasets.map ultrachat filter"))
        if args.ray:
            tasks.append(("ultrachat-ray", ultrachat, "distill-data ultrachat --filter --engine ray"))
        tasks.append(("binarize", ultrafeedback, "distill-data binarize"))
        for step in (
            "fix_text",
            "truecase",
            "structure_filter",
            "assistant_disclaimer_filter",
            "language_filter",
            "prompt_id",
            "dedup",
        ):
            tasks.append((f"step:{step}", ultrachat, f"  {step} alone (1 process)"))
        baseline = None
        for task, corpus, label in tasks:
            result = measure(task, corpus, work, args.num_proc)
            workers = f"{result['worker_peak_mb']:>11,.0f} MB" if result["worker_peak_mb"] > 1 else ""
            rate = args.rows / result["seconds"]
            if task == "baseline-ultrachat":
                baseline = rate
            ratio = f"{rate / baseline:>11,.1f}x" if baseline and task.startswith("ultrachat") else " " * 12
            print(f"{label:<44}{rate:>10,.0f}{ratio}{result['peak_mb']:>9,.0f} MB{workers}", flush=True)


if __name__ == "__main__":
    main()
