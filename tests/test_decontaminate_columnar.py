"""Decontaminate matches whole batches (Arrow kernels, hashed n-gram windows): it must drop exactly what the plain
per-row definition drops, on every shape of input (Unicode, nulls, slices, chunks, several user turns)."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest
from conftest import TEST_DATA
from helpers import dialogues

from distill_data.processors import Decontaminate, decontaminate
from distill_data.processors.decontaminate import load_benchmark, word_lists, words

TRUTHFUL = str(TEST_DATA / "truthfulqa_questions.jsonl")
MT_BENCH = str(TEST_DATA / "mt_bench_first_turns.jsonl")
FILLER = (
    "Thanks in advance — I’m curious. ÉCOLE, naïve café; Привет мир! 東京 の 天気 नमस्ते दुनिया\tmore\nwords "
    "here_and_there 42 x² ½ ΣΟΦΙΑ"
).split(" ")


def reference(step: Decontaminate, texts_per_row: list[list[str | None]]) -> tuple[list, list]:
    """The definition, one row and one turn at a time: exact match of the normalised text first, then shared
    n-grams; the first turn that matches decides."""
    exact: dict[str, str] = {}
    grams: dict[tuple[str, ...], str] = {}
    for spec in step.benchmarks:
        name, prompts = load_benchmark(spec)
        for prompt in prompts:
            tokens = words(prompt)
            if tokens:
                exact.setdefault(" ".join(tokens), name)
            for i in range(len(tokens) - step.ngram + 1):
                grams.setdefault(tuple(tokens[i : i + step.ngram]), name)
    reasons, details = [], []
    for candidates in texts_per_row:
        reason = detail = None
        for text in candidates:
            tokens = words(text or "")
            if tokens and " ".join(tokens) in exact:
                reason, detail = "benchmark_exact", exact[" ".join(tokens)]
                break
            hits = [tuple(tokens[i : i + step.ngram]) for i in range(len(tokens) - step.ngram + 1)]
            hits = [gram for gram in hits if gram in grams]
            if len(hits) >= step.min_shared:
                reason, detail = "benchmark_ngram", f"{grams[hits[0]]}: '{' '.join(hits[0])}'"
                break
        reasons.append(reason)
        details.append(detail)
    return reasons, details


def benchmark_prompts() -> list[str]:
    return [json.loads(line)["turn"] for line in (TEST_DATA / "mt_bench_first_turns.jsonl").open()] + [
        json.loads(line)["question"] for line in (TEST_DATA / "truthfulqa_questions.jsonl").open()
    ]


def generated_prompts(n: int, seed: int) -> list[str | None]:
    """Clean text, benchmark prompts (verbatim, re-cased, re-punctuated, embedded, cut), and odd inputs."""
    rng = random.Random(seed)
    pool = benchmark_prompts()
    long_turns = [p for p in pool if len(p.split()) >= 20]
    prompts: list[str | None] = []
    for _ in range(n):
        filler = " ".join(rng.choices(FILLER, k=rng.randint(0, 12)))
        question = rng.choice(pool)
        kind = rng.random()
        if kind < 0.15:
            prompts.append(question)
        elif kind < 0.25:
            prompts.append(question.upper().replace(" ", "  ,") + " ?!")
        elif kind < 0.45:
            cut = rng.choice(long_turns).split()
            start = rng.randrange(len(cut) - 10)
            prompts.append(f"{filler} {' '.join(cut[start : start + rng.randint(10, 20)])} {filler}")
        elif kind < 0.5:
            prompts.append(rng.choice([None, "", "   ", "?!…", "\n"]))
        else:
            prompts.append(filler)
    return prompts


@pytest.mark.parametrize(
    ("params", "seed"),
    [
        ({"benchmarks": (TRUTHFUL, MT_BENCH)}, 1),
        ({"benchmarks": (MT_BENCH, TRUTHFUL), "ngram": 8}, 2),
        ({"benchmarks": (MT_BENCH,), "ngram": 5, "min_shared": 3}, 3),
        ({"benchmarks": (TRUTHFUL,), "ngram": 1, "min_shared": 2}, 4),
    ],
)
def test_prompts_match_the_per_row_definition(params: dict, seed: int) -> None:
    prompts = generated_prompts(400, seed)
    step = Decontaminate(**params)
    expected_reasons, expected_details = reference(step, [[p] for p in prompts])
    assert expected_reasons.count("benchmark_exact") >= 5 and expected_reasons.count("benchmark_ngram") >= 20
    table = pa.table({"prompt": pa.array(prompts, pa.string())})
    # whole, sliced (buffers with an offset), in two chunks, and as large strings
    chunked = pa.concat_tables([table.slice(0, 150), table.slice(150)])
    large = table.cast(pa.schema([("prompt", pa.large_string())]))
    for variant in (table, chunked, large):
        reasons, details = step.drop_reasons(variant)
        assert reasons.to_pylist() == expected_reasons
        assert details.to_pylist() == expected_details
    reasons, details = step.drop_reasons(table.slice(123, 200))
    assert reasons.to_pylist() == expected_reasons[123:323] and details.to_pylist() == expected_details[123:323]


def test_ngrams_never_span_two_prompts() -> None:
    turn = json.loads((TEST_DATA / "mt_bench_first_turns.jsonl").open().readline())["turn"].split()
    head, tail = " ".join(turn[:6]), " ".join(turn[6:13])
    step = Decontaminate(benchmarks=(MT_BENCH,))
    table = pa.table({"prompt": [f"Intro words. {head}", f"{tail} and more", f"{head} {tail}"]})
    assert step.drop_reasons(table)[0].to_pylist() == [None, None, "benchmark_ngram"]
    conversation = dialogues([head, "Sure.", tail, "Ok."], [f"{head} {tail}", "Hm."])
    assert Decontaminate(benchmarks=(MT_BENCH,), all_user_turns=True).drop_reasons(conversation)[0].to_pylist() == [
        None,
        "benchmark_ngram",
    ]


def test_all_user_turns_match_the_per_row_definition() -> None:
    rng = random.Random(6)
    prompts = generated_prompts(300, 5)
    conversations = []
    for _ in range(120):
        turns: list[str] = []
        for _ in range(rng.randint(1, 4)):
            turns += [rng.choice(prompts) or "", rng.choice(benchmark_prompts())]  # assistant turns never count
        if rng.random() < 0.3:
            turns[0] = " ".join(rng.choice(benchmark_prompts()).split()[:20]) + " and more"
        conversations.append(turns)
    table = pa.concat_tables([dialogues(*conversations[:60]), dialogues(*conversations[60:])])
    step = Decontaminate(benchmarks=(TRUTHFUL, MT_BENCH), all_user_turns=True)
    expected = reference(step, [turns[::2] for turns in conversations])
    assert expected[0].count(None) > 10 and expected[0].count("benchmark_ngram") > 10
    reasons, details = step.drop_reasons(table)
    assert (reasons.to_pylist(), details.to_pylist()) == expected
    reasons, _ = step.drop_reasons(table.slice(50, 30))
    assert reasons.to_pylist() == expected[0][50:80]


def test_word_lists_equal_words() -> None:
    texts = [*FILLER, " ".join(FILLER), "", None, "  A  b\t", "ÀÉÎ õü ß ﬁ K"]
    lists = word_lists(pa.array(texts, pa.string())).to_pylist()
    assert [None if t is None else [w for w in ws if w] for t, ws in zip(texts, lists, strict=True)] == [
        None if t is None else words(t) for t in texts
    ]
    # The one character Python knows that lowercases differently in Arrow (simple case mapping)
    assert word_lists(pa.array(["İstanbul"])).to_pylist() == [["istanbul"]] and words("İstanbul") == ["i", "stanbul"]


def test_runs_of_texts_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    prompts = generated_prompts(200, 7)
    table = pa.table({"prompt": pa.array(prompts, pa.string())})
    step = Decontaminate(benchmarks=(TRUTHFUL, MT_BENCH))
    expected = [column.to_pylist() for column in step.drop_reasons(table)]
    monkeypatch.setattr(decontaminate, "_TEXT_BYTES_PER_RUN", 64)  # a run of one to a few texts
    assert [column.to_pylist() for column in step.drop_reasons(table)] == expected
    assert expected == list(reference(step, [[p] for p in prompts]))
