"""Benchmark: the `decontaminate` and `near_dedup` processors, each beside a naive baseline, on generated prompts.

    python benchmarks/bench_dedup_decontam.py [--rows 20000] [--benchmark FILE ...] [--contaminate 0.01]
        [--long-prompts] [--skip-baseline]
    python benchmarks/bench_dedup_decontam.py --memory-scaling 100000 300000 [--keep-corpora DIR]

The prompts are the first user turns of a generated UltraChat corpus (benchmarks/make_corpus.py); a share of
them (``--contaminate``) gets a benchmark prompt, verbatim or inside a longer request, so decontamination has
something to find. ``--long-prompts`` takes each whole dialogue as the prompt instead (about 2,000 characters),
for the cost per character. Benchmarks default to the vendored TruthfulQA questions and MT-Bench first turns in
tests/data (the full files are in the project's shared benchmarks folder; pass them with ``--benchmark``).

- decontaminate baseline: per row and per benchmark prompt, a Python set intersection of their word 13-grams.
- near_dedup baseline: per row, a datasketch MinHash fed one character 5-gram at a time with ``update()``, then
  ``MinHashLSH`` query (any candidate is a duplicate) and insert.

Every measurement runs in its own process: rows/s of the step alone (the corpus is loaded before the clock
starts), the process's peak RSS, and how much the peak grew while the step ran (its index and state).

``--memory-scaling N1 N2`` measures memory instead, on generated ``ultrachat-varied`` corpora of N1 and N2
dialogues (varied, mostly distinct prompts): the peak RSS of the whole build
(``distill-data ultrachat --filter --near-dedup 0.85 --num-proc 1``, checkpoints included) and of near_dedup alone
(with prompt ids as labels; its index's bytes per kept prompt), each at both sizes, and the line through the two
peaks extrapolated to the full UltraChat: 1,470,000 dialogues, and 1,470,000 kept prompts (every prompt kept).
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

HERE = Path(__file__).resolve().parent
TEST_DATA = HERE.parent / "tests" / "data"
DEFAULT_BENCHMARKS = [TEST_DATA / "truthfulqa_questions.jsonl", TEST_DATA / "mt_bench_first_turns.jsonl"]
BATCH_ROWS = 10_000
FULL_ULTRACHAT = 1_470_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_prompts(corpus: Path, benchmarks: list[str], contaminate: float, long_prompts: bool = False) -> list[str]:
    """The first user turn of every row (or, with ``long_prompts``, the whole dialogue as one text), with a seeded
    share replaced by (or wrapped around) a benchmark prompt."""
    from distill_data.processors import load_benchmark

    prompts = []
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            turns = json.loads(line)["data"]
            prompts.append("\n".join(turns) if long_prompts else turns[0] if turns else "")
    pool = [prompt for spec in benchmarks for prompt in load_benchmark(spec)[1]]
    rng = random.Random(0)
    for row in rng.sample(range(len(prompts)), round(len(prompts) * contaminate)):
        question = rng.choice(pool)
        prompts[row] = question if rng.random() < 0.5 else f"Here is a task from my course. {question} Thanks!"
    return prompts


def _ours(step_spec: dict, prompts: list[str]) -> tuple[float, int]:
    import pyarrow as pa

    from distill_data.processors import StepStats, processor_from_dict

    table = pa.table({"prompt": pa.array(prompts, pa.string())})
    step = processor_from_dict(step_spec)
    stats = StepStats(step.name)
    start = time.perf_counter()
    step.setup()
    for offset in range(0, len(table), BATCH_ROWS):
        step.process(table.slice(offset, BATCH_ROWS), stats)
    return time.perf_counter() - start, sum(stats.dropped.values())


def _baseline_decontaminate(prompts: list[str], benchmarks: list[str]) -> tuple[float, int]:
    from distill_data.processors import load_benchmark
    from distill_data.processors.decontaminate import words

    def grams(text: str) -> set[tuple[str, ...]]:
        tokens = words(text)
        return {tuple(tokens[i : i + 13]) for i in range(len(tokens) - 12)}

    start = time.perf_counter()
    index = [grams(prompt) for spec in benchmarks for prompt in load_benchmark(spec)[1]]
    dropped = 0
    for prompt in prompts:
        mine = grams(prompt)
        if any(mine & theirs for theirs in index):
            dropped += 1
    return time.perf_counter() - start, dropped


def _baseline_near_dedup(prompts: list[str]) -> tuple[float, int]:
    from datasketch import MinHash, MinHashLSH

    from distill_data.processors.decontaminate import words

    start = time.perf_counter()
    lsh = MinHashLSH(threshold=0.85, num_perm=128)
    dropped = 0
    for row, prompt in enumerate(prompts):
        text = " ".join(words(prompt))
        if not text:
            continue
        minhash = MinHash(num_perm=128, seed=42)
        for i in range(max(len(text) - 4, 1)):
            minhash.update(text[i : i + 5].encode("utf-8"))
        if lsh.query(minhash):
            dropped += 1
        else:
            lsh.insert(row, minhash)
    return time.perf_counter() - start, dropped


def _near_dedup_index(prompts: list[str]) -> None:
    """near_dedup alone, labelled by prompt id as in a build: peak RSS and the index's bytes per kept prompt."""
    import pyarrow as pa

    from distill_data.processors import NearDedup, StepStats, prompt_id

    table = pa.table({"prompt": pa.array(prompts, pa.string()), "prompt_id": [prompt_id(p) for p in prompts]})
    before = _peak_mb()  # after the table is built: "grew" is the step's index and its per-batch work
    step = NearDedup()
    step.setup()
    stats = StepStats(step.name)
    start = time.perf_counter()
    for offset in range(0, len(table), BATCH_ROWS):
        step.process(table.slice(offset, BATCH_ROWS), stats)
    seconds = time.perf_counter() - start
    index = step._index
    assert index is not None
    peak = _peak_mb()
    result = {"seconds": seconds, "kept": len(index), "index_bytes": index.nbytes(), "peak_mb": peak}
    print("RESULT " + json.dumps({**result, "grew_mb": peak - before}))


def _build(corpus: Path) -> None:
    """The whole build in this process (``--num-proc 1``): peak RSS and the prompts near_dedup kept."""
    from distill_data.cli import cli

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        args = ["ultrachat", "-i", str(corpus), "-o", str(out), "--filter", "--near-dedup", "0.85"]
        start = time.perf_counter()
        cli.main([*args, "--num-proc", "1", "--no-progress"], standalone_mode=False)
        seconds = time.perf_counter() - start
        steps = json.loads((out / "provenance.json").read_text())["steps"]
    kept = next(step["rows_out"] for step in steps if step["name"] == "near_dedup")
    print("RESULT " + json.dumps({"seconds": seconds, "kept": kept, "peak_mb": _peak_mb()}))


def child(task: str, corpus: Path, benchmarks: list[str], contaminate: float, long_prompts: bool) -> None:
    import datasketch  # noqa: F401  (imported before the first reading, so "grew" is the step's state, not imports)
    import pyarrow  # noqa: F401

    if task == "build":
        _build(corpus)
        return
    prompts = load_prompts(corpus, benchmarks, contaminate, long_prompts)
    before = _peak_mb()
    if task == "decontaminate":
        seconds, dropped = _ours({"decontaminate": {"benchmarks": benchmarks}}, prompts)
    elif task == "baseline-decontaminate":
        seconds, dropped = _baseline_decontaminate(prompts, benchmarks)
    elif task == "near_dedup":
        seconds, dropped = _ours({"near_dedup": {}}, prompts)
    elif task == "baseline-near_dedup":
        seconds, dropped = _baseline_near_dedup(prompts)
    elif task == "near_dedup-index":
        _near_dedup_index(prompts)
        return
    else:
        raise SystemExit(f"unknown task {task}")
    peak = _peak_mb()
    print("RESULT " + json.dumps({"seconds": seconds, "dropped": dropped, "peak_mb": peak, "grew_mb": peak - before}))


def measure(task: str, corpus: Path, benchmarks: list[str], contaminate: float, long_prompts: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", task, "--corpus", str(corpus), "--contaminate", str(contaminate)]
    if long_prompts:
        command.append("--long-prompts")
    for spec in benchmarks:
        command += ["--benchmark", spec]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{task} failed:\n{done.stderr[-3000:]}")
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--benchmark", action="append", help="Benchmark prompt file (repeatable).")
    parser.add_argument("--contaminate", type=float, default=0.01, help="Share of prompts given a benchmark prompt.")
    parser.add_argument("--long-prompts", action="store_true", help="Use each whole dialogue as the prompt.")
    parser.add_argument("--skip-baseline", action="store_true", help="Leave out the (slow) baselines.")
    parser.add_argument(
        "--memory-scaling", type=int, nargs=2, metavar="DIALOGUES", help="Measure memory at two corpus sizes."
    )
    parser.add_argument("--keep-corpora", type=Path, help="With --memory-scaling: generate (or reuse) corpora here.")
    parser.add_argument("--child")
    parser.add_argument("--corpus", type=Path)
    args = parser.parse_args()
    benchmarks = args.benchmark or [str(path) for path in DEFAULT_BENCHMARKS]
    if args.child:
        child(args.child, args.corpus, benchmarks, args.contaminate, args.long_prompts)
        return
    sys.path.insert(0, str(HERE))
    from make_corpus import make_corpus

    if args.memory_scaling:
        memory_scaling(args.memory_scaling, args.keep_corpora)
        return
    with tempfile.TemporaryDirectory() as tmp:
        corpus = make_corpus("ultrachat", args.rows, Path(tmp) / "ultrachat.jsonl")
        prompts = load_prompts(corpus, benchmarks, args.contaminate, args.long_prompts)
        mean_chars = sum(map(len, prompts)) / max(len(prompts), 1)
        print(
            f"corpus: {args.rows:,} generated UltraChat {'dialogues' if args.long_prompts else 'prompts'} "
            f"(mean {mean_chars:,.0f} characters), "
            f"{args.contaminate:.1%} given a benchmark prompt; "
            f"benchmarks: {', '.join(Path(b).name for b in benchmarks)}"
        )
        print(f"{'what':<52}{'rows/s':>10}{'dropped':>9}{'peak RSS':>11}{'grew':>9}")
        tasks = [
            ("baseline-decontaminate", "baseline: 13-gram set intersection per row and prompt"),
            ("decontaminate", "decontaminate"),
            ("baseline-near_dedup", "baseline: datasketch MinHash.update + MinHashLSH"),
            ("near_dedup", "near_dedup"),
        ]
        for task, label in tasks:
            if args.skip_baseline and task.startswith("baseline"):
                continue
            result = measure(task, corpus, benchmarks, args.contaminate, args.long_prompts)
            print(
                f"{label:<52}{args.rows / result['seconds']:>10,.0f}{result['dropped']:>9,}"
                f"{result['peak_mb']:>8,.0f} MB{result['grew_mb']:>6,.0f} MB",
                flush=True,
            )


def memory_scaling(sizes: list[int], keep: Path | None) -> None:
    """Peak RSS of a build with near_dedup and of near_dedup alone at two sizes, and the line through them."""
    from make_corpus import make_corpus

    with tempfile.TemporaryDirectory() as tmp:
        folder = keep or Path(tmp)
        print(f"{'what':<44}{'dialogues':>11}{'kept':>10}{'seconds':>9}{'peak RSS':>11}{'index/kept':>12}{'grew':>9}")
        results: dict[str, list[tuple[int, dict[str, float]]]] = {"build": [], "near_dedup-index": []}
        for size in sorted(sizes):
            corpus = folder / f"ultrachat-varied-{size}.jsonl"
            if not corpus.exists():
                make_corpus("ultrachat-varied", size, corpus)
            for task, label in [
                ("build", "build: ultrachat --filter --near-dedup 0.85"),
                ("near_dedup-index", "near_dedup alone (first turns)"),
            ]:
                result = measure(task, corpus, [], 0.0, False)
                results[task].append((size, result))
                per_kept = f"{result['index_bytes'] / result['kept']:>10,.0f} B" if "index_bytes" in result else ""
                grew = f"{result['grew_mb']:>6,.0f} MB" if "grew_mb" in result else ""
                print(
                    f"{label:<44}{size:>11,}{result['kept']:>10,}{result['seconds']:>9,.0f}"
                    f"{result['peak_mb']:>8,.0f} MB{per_kept:>12}{grew:>9}",
                    flush=True,
                )
        # The whole build's peak; near_dedup alone holds its input too, so for it the growth while it ran.
        for task, column in (("build", "peak_mb"), ("near_dedup-index", "grew_mb")):
            (small_size, small), (large_size, large) = results[task]
            grown = (large[column] - small[column]) * 2**20
            per_dialogue = grown / (large_size - small_size)
            per_kept = grown / (large["kept"] - small["kept"])
            at_dialogues = large[column] * 2**20 + per_dialogue * (FULL_ULTRACHAT - large_size)
            at_kept = large[column] * 2**20 + per_kept * (FULL_ULTRACHAT - large["kept"])
            what = "build: peak RSS" if task == "build" else "near_dedup alone: peak RSS growth while it ran"
            print(
                f"{what} {small[column]:,.0f} -> {large[column]:,.0f} MB, {per_kept:,.0f} B per kept prompt "
                f"({per_dialogue:,.0f} B per dialogue); extrapolated to {FULL_ULTRACHAT:,} dialogues "
                f"{at_dialogues / 1e9:.2f} GB, to {FULL_ULTRACHAT:,} kept prompts {at_kept / 1e9:.2f} GB"
            )


if __name__ == "__main__":
    main()
