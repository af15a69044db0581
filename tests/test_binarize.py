"""Binarize (zephyr, argilla-clean, h4-2023), SourceFilter and the UltraFeedback row conversion.

Expected values are worked out by hand from the method descriptions (mean of the non-"N/A" aspect ratings,
earliest best completion, rejected among the other eligible / strictly lower / all-but-the-chosen-triple
completions). The h4-2023 method is checked against an independent re-implementation of the original loop.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from distill_data.errors import InputError
from distill_data.processors.base import StepStats
from distill_data.processors.binarize import Binarize
from distill_data.processors.source_filter import SourceFilter
from distill_data.sources.rows import FieldProblem
from distill_data.sources.ultrafeedback import SCHEMA, UltraFeedbackSource, convert_row
from distill_data.synthetic import ultrafeedback_rows

REAL_UF = Path(__file__).resolve().parent / "data" / "ultrafeedback_raw_partial.jsonl"
ASPECTS = ("helpfulness", "honesty", "instruction_following", "truthfulness")
METHODS = ("zephyr", "argilla-clean", "h4-2023")
NA = ("N/A", "N/A", "N/A", "N/A")


def same(rating: str) -> tuple[str, str, str, str]:
    """The same rating for all four aspects."""
    return (rating, rating, rating, rating)


def raw(
    prompt: str,
    completions: list[tuple[str, str, tuple[str, str, str, str], Any]],
    source: str | None = "evol_instruct",
) -> dict[str, Any]:
    """A raw UltraFeedback row; each completion is ``(model, response, 4 ratings in ASPECTS order, overall)``."""
    return {
        "source": source,
        "instruction": prompt,
        "completions": [
            {
                "model": model,
                "response": response,
                "annotations": {
                    aspect: {"Rating": rating, "Rationale": "..."}
                    for aspect, rating in zip(ASPECTS, ratings, strict=True)
                },
                "overall_score": overall,
            }
            for model, response, ratings, overall in completions
        ],
    }


def table_of(rows: list[dict[str, Any]], require_overall_score: bool = False) -> pa.Table:
    return pa.Table.from_pylist([convert_row(r, require_overall_score) for r in rows], schema=SCHEMA)


def binarize(
    rows: list[dict[str, Any]] | pa.Table, stats: StepStats | None = None, **params: Any
) -> tuple[list[dict[str, Any]], StepStats]:
    table = rows if isinstance(rows, pa.Table) else table_of(rows, params.get("method") == "h4-2023")
    stats = stats if stats is not None else StepStats("binarize")
    out = Binarize(**params).process(table, stats)
    return out.to_pylist(), stats


def picks(out: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    return {row["prompt_id"]: (row["chosen_model"], row["rejected_model"]) for row in out}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def four_way(i: int) -> dict[str, Any]:
    """A prompt with one clear best (m0, mean 5) and three other eligible completions."""
    return raw(
        f"Question number {i}: how do tides work?",
        [
            ("m1", f"answer one {i}", ("3", "4", "3", "2"), 6),
            ("m0", f"answer zero {i}", same("5"), 9),
            ("m2", f"answer two {i}", same("2"), 4),
            ("m3", f"answer three {i}", ("1", "N/A", "1", "2"), 2),
        ],
    )


# --------------------------------------------------------------------------------------------------------
# Output shape
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_output_row_shape(method: str) -> None:
    prompt = "  Say hello in French, please. ¿Qué tal? 🙂\n"  # the prompt is used verbatim, spaces included
    rows = [raw(prompt, [("bad-model", "Go away.", same("2"), 3), ("good-model", "Bonjour !", same("5"), 9)])]
    out, _ = binarize(rows, method=method, seed=3)
    assert len(out) == 1
    row = out[0]
    assert row["chosen"] == [{"content": prompt, "role": "user"}, {"content": "Bonjour !", "role": "assistant"}]
    assert row["rejected"] == [{"content": prompt, "role": "user"}, {"content": "Go away.", "role": "assistant"}]
    assert [sorted(turn) for turn in row["chosen"] + row["rejected"]] == [["content", "role"]] * 4
    assert row["messages"] == row["chosen"]
    assert row["prompt_id"] == sha(prompt)
    assert row["chosen_model"] == "good-model"
    assert row["rejected_model"] == "bad-model"
    expected_scores = (9.0, 3.0) if method == "h4-2023" else (5.0, 2.0)
    assert (row["score_chosen"], row["score_rejected"]) == expected_scores
    assert type(row["score_chosen"]) is float
    assert type(row["score_rejected"]) is float
    assert row["prompt"] == prompt


def test_output_columns_and_order_of_rows() -> None:
    rows = [four_way(i) for i in range(5)]
    table = table_of(rows)
    out = Binarize(seed=1).process(table, StepStats("binarize"))
    for column in (
        "prompt",
        "prompt_id",
        "chosen",
        "rejected",
        "messages",
        "score_chosen",
        "score_rejected",
        "chosen_model",
        "rejected_model",
    ):
        assert column in out.column_names
    assert out.column("prompt").to_pylist() == [r["instruction"] for r in rows]
    assert out.column("prompt_id").to_pylist() == [sha(r["instruction"]) for r in rows]


# --------------------------------------------------------------------------------------------------------
# zephyr
# --------------------------------------------------------------------------------------------------------


def test_zephyr_score_is_mean_of_ratings_with_na_left_out() -> None:
    # A: only helpfulness rated (5) -> 5.0; counting N/A as 0 would give 1.25 and make B the best.
    # B: (4+4+5+3)/4 = 4.0. overall_score is ignored (B's is higher).
    out, _ = binarize([raw("p", [("A", "a", ("5", "N/A", "N/A", "N/A"), 1), ("B", "b", ("4", "4", "5", "3"), 10)])])
    assert (out[0]["chosen_model"], out[0]["score_chosen"]) == ("A", 5.0)
    assert (out[0]["rejected_model"], out[0]["score_rejected"]) == ("B", 4.0)

    # (3+4)/2 = 3.5 beats (4+3+3+3)/4 = 3.25; (2+1+1+1)/4 = 1.25 is fractional too.
    out, _ = binarize(
        [
            raw("q", [("C", "c", ("4", "3", "3", "3"), 9), ("D", "d", ("3", "N/A", "4", "N/A"), 1)]),
            raw("r", [("E", "e", ("2", "1", "1", "1"), 9), ("F", "f", same("1"), 9)]),
        ]
    )
    assert [(r["chosen_model"], r["score_chosen"], r["rejected_model"], r["score_rejected"]) for r in out] == [
        ("D", 3.5, "C", 3.25),
        ("E", 1.25, "F", 1.0),
    ]


def test_zephyr_completion_without_any_rating_is_never_chosen_or_rejected() -> None:
    # "unrated" has no valid rating: it must be skipped, leaving B (3.0) chosen and C (2.0) rejected.
    row = raw("p", [("unrated", "I am great", NA, 10), ("B", "b", same("3"), 1), ("C", "c", same("2"), 1)])
    for seed in range(20):
        out, _ = binarize([row], seed=seed)
        assert picks(out) == {sha("p"): ("B", "C")}


@pytest.mark.parametrize("method", ["zephyr", "argilla-clean"])
def test_empty_or_whitespace_response_is_never_chosen_or_rejected(method: str) -> None:
    row = raw(
        "p",
        [
            ("empty", "", same("5"), 10),
            ("blank", "  \n\t ", same("5"), 10),
            ("mid", "a real answer", same("3"), 1),
            ("blank-low", "\u00a0\r\n", same("1"), 1),
            ("low", "a weak answer", same("2"), 1),
        ],
    )
    for seed in range(20):
        out, _ = binarize([row], method=method, seed=seed)
        assert picks(out) == {sha("p"): ("mid", "low")}


def test_zephyr_tie_for_the_top_goes_to_the_earliest_completion() -> None:
    # first and second both average 4.0 ("5","3","4","4" sums to 16 like four "4"s).
    first = ("first", "one", same("4"), 1)
    second = ("second", "two", ("5", "3", "4", "4"), 10)
    low = ("low", "three", same("1"), 1)
    for seed in range(10):
        out, _ = binarize([raw("p", [low, first, second])], seed=seed)
        assert (out[0]["chosen_model"], out[0]["score_chosen"]) == ("first", 4.0)
        out, _ = binarize([raw("p", [low, second, first])], seed=seed)
        assert (out[0]["chosen_model"], out[0]["score_chosen"]) == ("second", 4.0)


def test_zephyr_rejected_may_tie_with_chosen_and_ties_drop_removes_exactly_those() -> None:
    row = raw("p", [("A", "a", same("4"), 1), ("B", "b", ("4", "4", "3", "5"), 1), ("C", "c", same("1"), 1)])
    kept_with_tie = 0
    for seed in range(40):
        out, stats = binarize([row], seed=seed)
        assert stats.dropped == {}
        ((chosen, rejected),) = picks(out).values()
        assert chosen == "A"
        assert rejected in {"B", "C"}
        out_drop, stats_drop = binarize([row], seed=seed, ties="drop")
        if rejected == "B":
            kept_with_tie += 1
            assert out[0]["score_rejected"] == out[0]["score_chosen"] == 4.0
            assert out_drop == []
            assert stats_drop.dropped == {"tie": 1}
        else:
            assert out[0]["score_rejected"] == 1.0
            assert picks(out_drop) == {sha("p"): ("A", "C")}
            assert stats_drop.dropped == {}
    # a uniform pick between two candidates over 40 seeds: both outcomes occur
    assert 0 < kept_with_tie < 40


def test_ties_drop_with_only_two_equal_completions() -> None:
    row = raw("p", [("A", "a", same("3"), 1), ("B", "b", ("2", "4", "3", "3"), 9)])
    out, stats = binarize([row], ties="keep")
    assert picks(out) == {sha("p"): ("A", "B")}
    assert out[0]["score_chosen"] == out[0]["score_rejected"] == 3.0
    out, stats = binarize([row], ties="drop")
    assert out == []
    assert stats.dropped == {"tie": 1}


def test_zephyr_rows_with_fewer_than_two_eligible_completions_are_dropped() -> None:
    rows = [
        raw("no completions", []),
        raw("one completion", [("A", "a", same("4"), 9)]),
        raw("one eligible", [("A", "a", same("4"), 9), ("B", "", same("3"), 9), ("C", "c", NA, 9)]),
        raw(
            "two eligible",
            [("A", "a", same("4"), 9), ("B", " ", same("3"), 9), ("C", "c", ("N/A", "2", "N/A", "N/A"), 9)],
        ),
    ]
    out, stats = binarize(rows)
    assert picks(out) == {sha("two eligible"): ("A", "C")}
    assert out[0]["score_rejected"] == 2.0
    assert stats.dropped == {"fewer_than_2_valid_completions": 3}
    examples = [e["prompt"] for e in stats.examples["fewer_than_2_valid_completions"]]
    assert examples == ["no completions", "one completion", "one eligible"]


def test_rejected_pick_depends_only_on_seed_and_prompt() -> None:
    rows = [four_way(i) for i in range(200)]
    table = table_of(rows)
    whole, _ = binarize(table, seed=7)
    expected = picks(whole)
    assert len(expected) == 200
    assert {c for c, _ in expected.values()} == {"m0"}
    assert {r for _, r in expected.values()} == {"m1", "m2", "m3"}

    reversed_out, _ = binarize(rows[::-1], seed=7)
    assert picks(reversed_out) == expected

    one_at_a_time: dict[str, tuple[str, str]] = {}
    for i in range(len(rows)):  # one-row slices of the big table (non-zero offsets) ...
        one_at_a_time.update(picks(binarize(table.slice(i, 1), seed=7)[0]))
    assert one_at_a_time == expected
    singles: dict[str, tuple[str, str]] = {}
    for row in rows[:50]:  # ... and tables built from a single row
        singles.update(picks(binarize([row], seed=7)[0]))
    assert singles == {k: expected[k] for k in singles}

    chunked = pa.concat_tables([table.slice(0, 33), table.slice(33, 100), table.slice(133)])
    assert picks(binarize(chunked, seed=7)[0]) == expected
    # mixed with other rows (some dropped) in the same batch
    mixed = [raw("extra", [("A", "a", same("4"), 1)]), *rows[100:], four_way(1000), *rows[:100]]
    assert {k: v for k, v in picks(binarize(mixed, seed=7)[0]).items() if k in expected} == expected


def test_different_seeds_pick_differently() -> None:
    rows = [four_way(i) for i in range(200)]
    one = picks(binarize(rows, seed=1)[0])
    two = picks(binarize(rows, seed=2)[0])
    assert one.keys() == two.keys()
    differing = sum(one[k][1] != two[k][1] for k in one)
    # independent uniform picks among 3 differ 2/3 of the time (~133 of 200)
    assert differing >= 100
    assert picks(binarize(rows)[0]) == picks(binarize(rows, seed=42)[0])  # the default seed is 42


def test_zephyr_rejected_is_uniform_over_the_other_eligible_completions() -> None:
    table = table_of([four_way(0)])
    counts: Counter[str] = Counter()
    for seed in range(3000):
        out = Binarize(seed=seed).process(table, StepStats("binarize")).column("rejected_model").to_pylist()
        counts.update(out)
    assert set(counts) == {"m1", "m2", "m3"}
    for model in ("m1", "m2", "m3"):
        assert 0.28 <= counts[model] / 3000 <= 0.39, counts


def _mean(ratings: list[float | None]) -> float | None:
    valid = [r for r in ratings if r is not None]
    return sum(valid) / len(valid) if valid else None


def test_zephyr_and_argilla_on_generated_rows_follow_the_rules() -> None:
    raws = list(ultrafeedback_rows(300, seed=5))
    converted = [convert_row(r) for r in raws]
    table = pa.Table.from_pylist(converted, schema=SCHEMA)
    for method in ("zephyr", "argilla-clean"):
        out, stats = binarize(table, method=method, seed=11)
        by_prompt = {row["prompt"]: row for row in out}
        expected_drops: Counter[str] = Counter()
        for row in converted:
            scored = []
            for c in row["completions"]:
                score = _mean([c[a] for a in ASPECTS])
                if score is not None and c["response"].strip():
                    scored.append((c["model"], score))
            if len(scored) < 2:
                expected_drops["fewer_than_2_valid_completions"] += 1
                assert row["prompt"] not in by_prompt
                continue
            best = max(s for _, s in scored)
            chosen = next(m for m, s in scored if s == best)
            others = {m: s for m, s in scored if m != chosen}
            if method == "argilla-clean":
                others = {m: s for m, s in others.items() if s < best}
                if not others:
                    expected_drops["no_lower_scored_completion"] += 1
                    assert row["prompt"] not in by_prompt
                    continue
            got = by_prompt[row["prompt"]]
            assert got["chosen_model"] == chosen
            assert got["score_chosen"] == pytest.approx(best)
            assert got["rejected_model"] in others
            assert got["score_rejected"] == pytest.approx(others[got["rejected_model"]])
            if method == "argilla-clean":
                assert got["score_rejected"] < got["score_chosen"]
            responses = {c["model"]: c["response"] for c in row["completions"]}
            assert got["chosen"][1]["content"] == responses[chosen]
            assert got["rejected"][1]["content"] == responses[got["rejected_model"]]
        assert stats.dropped == dict(expected_drops)
        assert len(out) == 300 - sum(expected_drops.values())
        assert expected_drops["fewer_than_2_valid_completions"] >= 2  # the generated rows do contain such rows


# --------------------------------------------------------------------------------------------------------
# argilla-clean
# --------------------------------------------------------------------------------------------------------


def test_argilla_rejects_only_strictly_lower_scores() -> None:
    # B ties with the chosen A (4.0); only C (1.5) and D (2.0) are strictly lower.
    row = raw(
        "p",
        [
            ("A", "a", same("4"), 1),
            ("B", "b", ("5", "3", "4", "4"), 1),
            ("C", "c", ("1", "2", "N/A", "N/A"), 1),
            ("D", "d", same("2"), 1),
        ],
    )
    argilla = Counter()
    zephyr = Counter()
    for seed in range(60):
        out, stats = binarize([row], method="argilla-clean", seed=seed)
        assert stats.dropped == {}
        assert out[0]["chosen_model"] == "A"
        argilla[out[0]["rejected_model"]] += 1
        zephyr[binarize([row], seed=seed)[0][0]["rejected_model"]] += 1
    assert set(argilla) == {"C", "D"}
    assert set(zephyr) == {"B", "C", "D"}  # the same seeds do reach B when ties are allowed


def test_argilla_drops_rows_without_a_lower_scored_completion() -> None:
    rows = [
        raw("all tied", [("A", "a", same("3"), 9), ("B", "b", ("4", "2", "3", "3"), 1)]),
        # the only lower one has an empty response, so it is not eligible
        raw("lower is empty", [("A", "a", same("5"), 1), ("B", "", same("1"), 1), ("C", "c", same("5"), 1)]),
        raw("too few", [("A", "a", same("5"), 1)]),
        raw("fine", [("A", "a", same("5"), 1), ("B", "b", same("4"), 1)]),
    ]
    out, stats = binarize(rows, method="argilla-clean")
    assert picks(out) == {sha("fine"): ("A", "B")}
    assert stats.dropped == {"no_lower_scored_completion": 2, "fewer_than_2_valid_completions": 1}
    # ties="drop" changes nothing: argilla-clean never produces ties
    out_drop, stats_drop = binarize(rows, method="argilla-clean", ties="drop")
    assert out_drop == out
    assert stats_drop.dropped == stats.dropped


# --------------------------------------------------------------------------------------------------------
# h4-2023
# --------------------------------------------------------------------------------------------------------


def h4_reference(rows: list[dict[str, Any]], seed: int) -> tuple[dict[str, dict[str, Any]], Counter[str]]:
    """The original 2023 loop, written out plainly (a private Random: same algorithm as ``random.seed``)."""
    kept: dict[str, dict[str, Any]] = {}
    drops: Counter[str] = Counter()
    for row in rows:
        completions = row["completions"]
        if len(completions) < 2:
            drops["fewer_than_2_completions"] += 1
            continue
        triples = [(float(c["overall_score"]), c["response"], c["model"]) for c in completions]
        best = max(triples, key=lambda t: t[0])  # max() keeps the first of equal maxima
        if all(t == best for t in triples):
            drops["all_completions_identical"] += 1
            continue
        rng = random.Random()
        rng.seed(seed)
        pick = rng.choice(triples)
        while pick == best:
            pick = rng.choice(triples)
        kept[row["instruction"]] = {
            "chosen_model": best[2],
            "chosen_response": best[1],
            "score_chosen": best[0],
            "rejected_model": pick[2],
            "rejected_response": pick[1],
            "score_rejected": pick[0],
        }
    return kept, drops


def h4_hand_rows() -> list[dict[str, Any]]:
    return [
        # copies of the best triple: only B differs from it
        raw("dupes", [("A", "x", same("1"), 9), ("A", "x", same("5"), 9), ("B", "y", same("5"), 5), ("A", "x", NA, 9)]),
        # same model and response, different score: a different triple
        raw("rescored", [("A", "x", same("3"), 9), ("A", "x", same("3"), 8)]),
        # equal score, different response or different model: not the chosen triple
        raw("reworded", [("A", "x", same("3"), 9), ("A", "x, but longer", same("3"), 9)]),
        raw("other model", [("A", "x", same("3"), 9), ("B", "x", same("3"), 9)]),
        raw("identical", [("A", "x", same("3"), 9), ("A", "x", same("1"), 9), ("A", "x", same("2"), 9.0)]),
        raw("top tie", [("A", "a", same("1"), 7), ("B", "b", same("5"), 7), ("C", "c", same("5"), 3)]),
        raw("first max", [("A", "a", same("5"), 5), ("B", "b", same("1"), 9.5), ("C", "c", same("1"), 9.5)]),
        raw("empty and unrated", [("A", "", NA, 9), ("B", "b", same("5"), 3), ("C", "  ", same("5"), 4)]),
        raw("single", [("A", "a", same("5"), 9)]),
        raw("none", []),
    ]


@pytest.mark.parametrize("seed", [42, 0, 1234])
def test_h4_matches_independent_reimplementation(seed: int) -> None:
    rows = list(ultrafeedback_rows(300, seed=5)) + h4_hand_rows()
    table = table_of(rows, require_overall_score=True)
    out, stats = binarize(table, method="h4-2023", seed=seed)
    expected, expected_drops = h4_reference(rows, seed)
    assert expected_drops["fewer_than_2_completions"] >= 4  # 2 generated rows + "single" + "none"
    assert stats.dropped == dict(expected_drops)
    got = {
        row["prompt"]: {
            "chosen_model": row["chosen_model"],
            "chosen_response": row["chosen"][1]["content"],
            "score_chosen": row["score_chosen"],
            "rejected_model": row["rejected_model"],
            "rejected_response": row["rejected"][1]["content"],
            "score_rejected": row["score_rejected"],
        }
        for row in out
    }
    assert got.keys() == expected.keys()
    for prompt in expected:
        assert got[prompt] == expected[prompt], prompt


def test_h4_hand_rows_by_hand() -> None:
    for seed in range(15):
        out, stats = binarize(h4_hand_rows(), method="h4-2023", seed=seed)
        rows = {row["prompt"]: row for row in out}
        assert set(rows) == {
            "dupes",
            "rescored",
            "reworded",
            "other model",
            "top tie",
            "first max",
            "empty and unrated",
        }
        assert stats.dropped == {"all_completions_identical": 1, "fewer_than_2_completions": 2}
        # B is the only triple that differs from the chosen (9, "x", "A")
        assert (rows["dupes"]["chosen_model"], rows["dupes"]["rejected_model"]) == ("A", "B")
        assert (rows["dupes"]["score_chosen"], rows["dupes"]["score_rejected"]) == (9.0, 5.0)
        assert rows["rescored"]["rejected"][1]["content"] == "x"
        assert (rows["rescored"]["score_chosen"], rows["rescored"]["score_rejected"]) == (9.0, 8.0)
        assert rows["reworded"]["rejected"][1]["content"] == "x, but longer"
        assert rows["reworded"]["chosen"][1]["content"] == "x"
        assert rows["reworded"]["score_rejected"] == 9.0
        assert (rows["other model"]["chosen_model"], rows["other model"]["rejected_model"]) == ("A", "B")
        assert rows["top tie"]["chosen_model"] == "A"  # first of the two 7s, whatever the ratings say
        assert rows["top tie"]["rejected_model"] in {"B", "C"}
        assert rows["first max"]["chosen_model"] == "B"
        assert rows["first max"]["score_chosen"] == 9.5
        # the empty, unrated completion is the best by overall_score, and is chosen
        assert rows["empty and unrated"]["chosen"][1]["content"] == ""
        assert rows["empty and unrated"]["score_chosen"] == 9.0
        assert rows["empty and unrated"]["rejected_model"] in {"B", "C"}


def test_h4_keeps_ties_on_overall_score() -> None:
    row = raw("top tie", [("A", "a", same("1"), 7), ("B", "b", same("5"), 7), ("C", "c", same("5"), 3)])
    rejected = set()
    for seed in range(30):
        out, stats = binarize([row], method="h4-2023", seed=seed)
        assert stats.dropped == {}
        rejected.add((out[0]["rejected_model"], out[0]["score_rejected"]))
    assert rejected == {("B", 7.0), ("C", 3.0)}


def test_h4_pick_is_positional_and_the_same_for_every_row_of_a_batch() -> None:
    # random.seed(seed) before every row: with the best first in each 4-completion row, every row gets the
    # rejected completion at the same position, namely the first draw of choice(range(4)) that is not 0.
    rows = [
        raw(f"prompt {i}", [(f"best{i}", "b", same("1"), 10)] + [(f"m{j}", f"r{j}", same("5"), j) for j in (1, 2, 3)])
        for i in range(25)
    ]
    for seed in (0, 5, 42):
        rng = random.Random(seed)
        position = rng.choice(range(4))
        while position == 0:
            position = rng.choice(range(4))
        out, _ = binarize(rows, method="h4-2023", seed=seed)
        assert [row["rejected_model"] for row in out] == [f"m{position}"] * 25
        assert [row["score_rejected"] for row in out] == [float(position)] * 25


# --------------------------------------------------------------------------------------------------------
# Tallies
# --------------------------------------------------------------------------------------------------------


def test_tallies_count_kept_rows_per_model_across_batches() -> None:
    batch = [
        raw("one", [("A", "a", same("5"), 9), ("B", "b", same("2"), 1)]),
        raw("two", [("C", "c", same("1"), 9), ("A", "a", same("4"), 1)]),
        raw("dropped", [("D", "d", same("5"), 9), ("E", "", same("2"), 1)]),
    ]
    stats = StepStats("binarize")
    binarize(batch, stats)
    assert stats.tallies == {"chosen_model": {"A": 2}, "rejected_model": {"B": 1, "C": 1}}
    binarize(batch[:1], stats)
    assert stats.tallies == {"chosen_model": {"A": 3}, "rejected_model": {"B": 2, "C": 1}}


@pytest.mark.parametrize("method", METHODS)
def test_tallies_sum_to_output_rows_on_generated_rows(method: str) -> None:
    out, stats = binarize(list(ultrafeedback_rows(300, seed=5)), method=method, seed=3)
    assert 0 < len(out) < 300
    for column in ("chosen_model", "rejected_model"):
        assert sum(stats.tallies[column].values()) == len(out)
        assert stats.tallies[column] == dict(Counter(row[column] for row in out))


# --------------------------------------------------------------------------------------------------------
# SourceFilter
# --------------------------------------------------------------------------------------------------------


def test_source_filter_drops_truthful_qa_only() -> None:
    rows = [
        raw("from tqa", [("A", "a", same("5"), 9)], source="truthful_qa"),
        raw("from evol", [("A", "a", same("5"), 9)], source="evol_instruct"),
        raw("no source", [("A", "a", same("5"), 9)], source=None),
        raw("from flan", [("A", "a", same("5"), 9)], source="flan_v2_niv2"),
    ]
    table = table_of(rows)
    assert table.column("source").to_pylist() == ["truthful_qa", "evol_instruct", None, "flan_v2_niv2"]
    stats = StepStats("source_filter")
    out = SourceFilter().process(table, stats)
    assert out.column("prompt").to_pylist() == ["from evol", "no source", "from flan"]
    assert stats.dropped == {"excluded_source": 1}
    assert stats.examples["excluded_source"][0]["detail"] == "truthful_qa"

    stats = StepStats("source_filter")
    assert SourceFilter().process(table.slice(1), stats).num_rows == 3
    assert stats.dropped == {}


# --------------------------------------------------------------------------------------------------------
# The real rows
# --------------------------------------------------------------------------------------------------------


def real_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in REAL_UF.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_real_partial_row_is_rejected_at_its_first_missing_annotations() -> None:
    partial = real_rows()[0]
    with pytest.raises(FieldProblem) as info:
        convert_row(partial)
    assert info.value.field == "completions[1].annotations"


def test_real_cpp_row_converts_to_the_published_mean_ratings() -> None:
    converted = convert_row(real_rows()[1])
    assert converted["source"] == "evol_instruct"
    assert converted["prompt"].startswith("Can you write a C++ program")
    means = {c["model"]: _mean([c[a] for a in ASPECTS]) for c in converted["completions"]}
    assert means == {"alpaca-7b": 1.25, "starchat": 5.0, "vicuna-33b": 4.0, "pythia-12b": 1.25}
    assert [c["overall_score"] for c in converted["completions"]] == [None] * 4


def test_real_cpp_row_zephyr_and_argilla() -> None:
    cpp = real_rows()[1]
    prompt = cpp["instruction"]
    expected_scores = {"vicuna-33b": 4.0, "alpaca-7b": 1.25, "pythia-12b": 1.25}
    responses = {c["model"]: c["response"] for c in cpp["completions"]}
    table = table_of([cpp])
    seen: dict[str, set[str]] = {"zephyr": set(), "argilla-clean": set()}
    for seed in range(300):
        for method in ("zephyr", "argilla-clean"):
            out, stats = binarize(table, method=method, seed=seed)
            assert stats.dropped == {}
            (row,) = out
            assert (row["chosen_model"], row["score_chosen"]) == ("starchat", 5.0)
            assert row["chosen"] == [
                {"content": prompt, "role": "user"},
                {"content": responses["starchat"], "role": "assistant"},
            ]
            assert row["prompt_id"] == sha(prompt)
            assert row["score_rejected"] == expected_scores[row["rejected_model"]]
            assert row["rejected"][1]["content"] == responses[row["rejected_model"]]
            seen[method].add(row["rejected_model"])
    assert seen["argilla-clean"] == set(expected_scores)
    assert seen["zephyr"] == set(expected_scores)
    # the published argilla row rejected pythia-12b: some seed reproduces it
    assert "pythia-12b" in seen["argilla-clean"]


def test_real_file_through_ultrafeedback_source(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        list(UltraFeedbackSource([str(REAL_UF)]).batches())
    assert info.value.field == "completions[1].annotations"
    assert info.value.location == "line 1"

    source = UltraFeedbackSource([str(REAL_UF)], on_error="skip", batch_size=10)
    batches = list(source.batches())
    assert [b.num_rows for b in batches] == [1]
    assert batches[0].schema == SCHEMA
    assert batches[0].column("prompt").to_pylist() == [real_rows()[1]["instruction"]]
    assert source.rejected == 1

    # h4-2023 needs overall_score, which neither real row has
    strict = UltraFeedbackSource([str(REAL_UF)], on_error="skip", require_overall_score=True)
    assert list(strict.batches()) == []
    assert strict.rejected == 2


# --------------------------------------------------------------------------------------------------------
# convert_row validation
# --------------------------------------------------------------------------------------------------------


def one_completion(**overrides: Any) -> dict[str, Any]:
    row = raw("p", [("A", "a", same("3"), 7.5)])
    row["completions"][0].update(overrides)
    return row


@pytest.mark.parametrize("bad", ["6", "0", "", None, "five", "3.5", True])
def test_convert_row_rejects_bad_ratings(bad: Any) -> None:
    row = raw("p", [("A", "a", same("3"), 1), ("B", "b", ("2", "N/A", "4", "5"), 1)])
    row["completions"][1]["annotations"]["honesty"]["Rating"] = bad
    with pytest.raises(FieldProblem) as info:
        convert_row(row)
    assert info.value.field == "completions[1].annotations.honesty.Rating"

    row = raw("p", [("A", "a", ("3", bad, "3", "3"), 1)])
    with pytest.raises(FieldProblem) as info:
        convert_row(row)
    assert info.value.field == "completions[0].annotations.honesty.Rating"


def test_convert_row_accepts_na_and_ratings_as_floats() -> None:
    converted = convert_row(raw("p", [("A", "a", ("N/A", "1", "5", "N/A"), 7.5)], source="sharegpt"))
    assert converted == {
        "prompt": "p",
        "source": "sharegpt",
        "completions": [
            {
                "model": "A",
                "response": "a",
                "helpfulness": None,
                "honesty": 1.0,
                "instruction_following": 5.0,
                "truthfulness": None,
                "overall_score": 7.5,
            }
        ],
    }


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({k: v for k, v in one_completion().items() if k != "instruction"}, "instruction"),
        ({**one_completion(), "completions": "not a list"}, "completions"),
        ({**one_completion(), "completions": {"0": {}}}, "completions"),
        (one_completion(annotations=None), "completions[0].annotations"),
        (one_completion(overall_score="7"), "completions[0].overall_score"),
    ],
    ids=["no-instruction", "completions-string", "completions-dict", "no-annotations", "score-string"],
)
def test_convert_row_names_the_bad_field(row: dict[str, Any], field: str) -> None:
    with pytest.raises(FieldProblem) as info:
        convert_row(row)
    assert info.value.field == field
    with pytest.raises(FieldProblem) as info:
        convert_row(row, require_overall_score=True)
    assert info.value.field == field


def test_convert_row_missing_annotations_key() -> None:
    row = one_completion()
    del row["completions"][0]["annotations"]
    with pytest.raises(FieldProblem) as info:
        convert_row(row)
    assert info.value.field == "completions[0].annotations"


def test_convert_row_overall_score_required_only_on_request() -> None:
    row = raw("p", [("A", "a", same("3"), 7), ("B", "b", same("3"), 1)])
    del row["completions"][0]["overall_score"]
    assert convert_row(row)["completions"][0]["overall_score"] is None
    with pytest.raises(FieldProblem) as info:
        convert_row(row, require_overall_score=True)
    assert info.value.field == "completions[0].overall_score"

    row["completions"][0]["overall_score"] = None
    with pytest.raises(FieldProblem) as info:
        convert_row(row, require_overall_score=True)
    assert info.value.field == "completions[0].overall_score"
    assert convert_row(row)["completions"][1]["overall_score"] == 1.0
