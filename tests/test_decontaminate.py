"""Decontaminate: benchmark prompts (exact after normalisation, or a shared 13-gram) are dropped with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import TEST_DATA, write_jsonl

from distill_data.cli import cli
from distill_data.errors import ConfigError, InputError
from distill_data.processors import Decontaminate, StepStats, load_benchmark
from distill_data.synthetic import ultrachat_rows, ultrafeedback_rows

TRUTHFUL = str(TEST_DATA / "truthfulqa_questions.jsonl")
MT_BENCH = str(TEST_DATA / "mt_bench_first_turns.jsonl")
QUESTION = json.loads((TEST_DATA / "truthfulqa_questions.jsonl").open().readline())["question"]
MT_TURN = json.loads((TEST_DATA / "mt_bench_first_turns.jsonl").open().readline())["turn"]


def prompts_table(*prompts: str) -> pa.Table:
    return pa.table({"prompt": pa.array(list(prompts), pa.string())})


def test_exact_and_ngram_matches_are_dropped_with_the_benchmark_named() -> None:
    step = Decontaminate(benchmarks=(TRUTHFUL, MT_BENCH))
    step.setup()
    shouty = "  " + QUESTION.upper().rstrip("?") + " ?!"
    embedded = "Please help me with this task. " + " ".join(MT_TURN.split()[:20]) + " Thanks a lot!"
    clean = "How do I repot a fiddle-leaf fig without hurting its roots?"
    stats = StepStats("decontaminate")
    out = step.process(prompts_table(shouty, embedded, clean), stats)
    assert out.column("prompt").to_pylist() == [clean]
    assert stats.dropped == {"benchmark_exact": 1, "benchmark_ngram": 1}
    assert stats.examples["benchmark_exact"][0]["detail"] == "truthfulqa_questions"
    detail = stats.examples["benchmark_ngram"][0]["detail"]
    assert detail.startswith("mt_bench_first_turns: '") and len(detail.split(": ", 1)[1].strip("'").split()) == 13


def test_short_overlaps_and_min_shared() -> None:
    twelve = " ".join(MT_TURN.split()[:12])  # one word short of a 13-gram
    step = Decontaminate(benchmarks=(MT_BENCH,))
    assert step.drop_reasons(prompts_table(f"Intro. {twelve} outro."))[0].to_pylist() == [None]
    fourteen = " ".join(MT_TURN.split()[:14])  # exactly two 13-grams
    assert Decontaminate(benchmarks=(MT_BENCH,), min_shared=2).drop_reasons(prompts_table(fourteen))[0].to_pylist() == [
        "benchmark_ngram"
    ]
    assert Decontaminate(benchmarks=(MT_BENCH,), min_shared=3).drop_reasons(prompts_table(fourteen))[0].to_pylist() == [
        None
    ]


def test_all_user_turns() -> None:
    from helpers import dialogues

    table = dialogues(["Hello there, how are you?", "Fine.", QUESTION, "An answer."])
    assert Decontaminate(benchmarks=(TRUTHFUL,)).inputs == ("prompt",)
    step = Decontaminate(benchmarks=(TRUTHFUL,), all_user_turns=True)
    assert step.inputs == ("messages",)
    assert step.drop_reasons(table)[0].to_pylist() == ["benchmark_exact"]


def test_benchmark_formats(tmp_path: Path) -> None:
    csv_file = tmp_path / "tqa.csv"
    csv_file.write_text("\ufeffType,Question\nAdversarial,What color is the sky?\n", encoding="utf-8")
    assert load_benchmark(str(csv_file)) == ("tqa", ["What color is the sky?"])
    parquet = tmp_path / "bench.parquet"
    pq.write_table(pa.table({"instruction": ["Write a poem.", "Name a river."]}), parquet)
    assert load_benchmark(str(parquet))[1] == ["Write a poem.", "Name a river."]
    array = tmp_path / "mt.json"
    array.write_text(json.dumps([{"turns": ["First turn.", "Second turn."]}]), encoding="utf-8")
    assert load_benchmark(str(array))[1] == ["First turn.", "Second turn."]
    empty = write_jsonl(tmp_path / "empty.jsonl", [{"answer": "no prompt here"}])
    with pytest.raises(InputError, match="no prompts found"):
        load_benchmark(str(empty))
    with pytest.raises(ConfigError, match="benchmarks"):
        Decontaminate()


def test_through_both_commands(tmp_path: Path) -> None:
    rows = list(ultrachat_rows(60, seed=51))
    rows[5]["data"][0] = QUESTION
    source = write_jsonl(tmp_path / "uc.jsonl", rows)
    result = CliRunner().invoke(
        cli, ["ultrachat", "-i", str(source), "-o", str(tmp_path / "uc"), "--decontaminate", TRUTHFUL, "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    steps = {s["name"]: s for s in json.loads((tmp_path / "uc" / "provenance.json").read_text())["steps"]}
    assert steps["decontaminate"]["dropped"] == {"benchmark_exact": 1}
    assert steps["decontaminate"]["params"]["benchmarks"] == [TRUTHFUL]

    preferences = list(ultrafeedback_rows(40, seed=52))
    preferences[3]["instruction"] = QUESTION
    source = write_jsonl(tmp_path / "uf.jsonl", preferences)
    result = CliRunner().invoke(
        cli,
        [
            "binarize",
            "-i",
            str(source),
            "-o",
            str(tmp_path / "uf"),
            "--test-size",
            "4",
            "--preset",
            "argilla-clean",
            "--decontaminate",
            TRUTHFUL,
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    steps = {s["name"]: s for s in json.loads((tmp_path / "uf" / "provenance.json").read_text())["steps"]}
    assert steps["decontaminate"]["dropped"] == {"benchmark_exact": 1}
