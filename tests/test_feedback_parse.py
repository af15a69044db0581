"""The pure parts of AI feedback: reading judge answers, rubrics, principles, endpoints and prices."""

from __future__ import annotations

import hashlib
from collections import Counter
from importlib import resources

import pytest

from distill_data.errors import ConfigError
from distill_data.feedback.endpoint import parse_endpoint, parse_endpoints
from distill_data.feedback.parse import NA, Judgement, describe_problem, parse_judgements, rating_value
from distill_data.feedback.principles import PRINCIPLES, PrincipleMix
from distill_data.feedback.rating import fine_grained_score
from distill_data.feedback.rubrics import ASPECTS, RUBRIC_VERSION, load_rubrics, parse_aspects
from distill_data.feedback.usage import Ledger, parse_price


def ratings(judgements: list[Judgement | None]) -> list[str | None]:
    return [j.rating if j else None for j in judgements]


ULTRAFEEDBACK_STYLE = (
    "#### Output for Text 1\nRating: 4\nRationale: Accurate, but misses the second part.\n\n"
    "#### Output for Text 2\nRating: 2\nRationale: Mostly wrong.\n\n"
    "#### Output for Text 3\nRating: N/A\nRationale: Pure fiction, nothing to check."
)


@pytest.mark.parametrize(
    ("reply", "count", "expected", "rationales"),
    [
        (ULTRAFEEDBACK_STYLE, 3, ["4", "2", NA], ["Accurate, but misses the second part.", "Mostly wrong.", None]),
        ("Text 1: 4/5 - clear and correct\nText 2: 2/5 - wrong date", 2, ["4", "2"], ["clear and correct", None]),
        ("**Text 1**: **5** — concise\n**Text 2**: N/A", 2, ["5", NA], ["concise", NA]),
        ('{"ratings": [{"rating": 4, "rationale": "ok"}, {"rating": "N/A"}]}', 2, ["4", NA], ["ok", NA]),
        ('Here you go:\n```json\n[{"text": 2, "score": "3"}, {"text": 1, "score": 5}]\n```', 2, ["5", "3"], None),
        ('{"Text 1": {"Rating": "5", "Rationale": "x"}, "Text 2": 2.0}', 2, ["5", "2"], ["x", NA]),
        ("<think>Text 1 is maybe a 3...</think>\nRating: [[5]]", 1, ["5"], None),
        ("1. Rating: 4\n   Rationale: nice\n2. Rating: 1\n   Rationale: bad", 2, ["4", "1"], ["nice", "bad"]),
        ("Ratings: 4, 3, 5", 3, ["4", "3", "5"], None),
        ("4", 1, ["4"], [NA]),
        ("It deserves 3 out of 5: the code does not compile.", 1, ["3"], None),
        ("Rating: 4.0\nThe steps are right.", 1, ["4"], ["The steps are right."]),
        # A rationale that mentions another text must not steal its section.
        (
            "Text 1: Rating: 3\nRationale: Weaker than Text 2.\nText 2: Rating: 5\nRationale: Best.",
            2,
            ["3", "5"],
            ["Weaker than Text 2.", "Best."],
        ),
    ],
)
def test_judge_answers_in_several_formats(
    reply: str, count: int, expected: list[str], rationales: list[str | None] | None
) -> None:
    judgements = parse_judgements(reply, count)
    assert ratings(judgements) == expected
    for judgement, rationale in zip(judgements, rationales or [None] * count, strict=True):
        if rationale is not None:
            assert judgement is not None and judgement.rationale == rationale


@pytest.mark.parametrize(
    ("reply", "count", "expected"),
    [
        ("I cannot rate these responses.", 2, [None, None]),
        ("", 1, [None]),
        ("Rating: 4\nRationale: a\nRating: 6\nRationale: b", 2, ["4", None]),  # 6 is off the scale
        ("#### Output for Text 1\nRating: 4\n", 3, ["4", None, None]),  # cut off
        ("Rating: 8/10", 1, [None]),  # another scale
        ("Rating: 3.5", 1, [None]),  # not a whole number
        ("Rating: 0", 1, [None]),
        ('{"ratings": [true, 4]}', 2, [None, "4"]),  # a boolean is not a rating
        ("Ratings: 4, 3", 3, [None, None, None]),  # one value short
    ],
)
def test_malformed_or_partial_answers_leave_gaps(reply: str, count: int, expected: list[str | None]) -> None:
    assert ratings(parse_judgements(reply, count)) == expected


def test_describe_problem_names_the_missing_responses() -> None:
    assert describe_problem([None, None]) == "no rating found for any of the 2 responses"
    assert describe_problem([Judgement("4", NA), None, None]) == (
        "no valid rating (1 to 5, or N/A) for response 2, 3 of 3"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(4, "4"), (4.0, "4"), ("5", "5"), (" 3 / 5 ", "3"), ("**2**", "2"), ("n/a", NA), ("NA", NA)],
        *[(6, None), ("4.5", None), (True, None), (None, None), ("four", None), ("2/10", None)],
    ],
)
def test_rating_value(value: object, expected: str | None) -> None:
    assert rating_value(value) == expected


def test_fine_grained_score_is_the_mean_of_numeric_ratings() -> None:
    assert fine_grained_score(["4", "3", NA, "5"]) == 4.0
    assert fine_grained_score(["1", "2"]) == 1.5
    assert fine_grained_score([NA, NA]) is None


def test_rubrics_are_versioned_package_data_and_fill_safely() -> None:
    rubrics = load_rubrics()
    assert rubrics.version == RUBRIC_VERSION == "v1"
    described = rubrics.describe()
    folder = resources.files("distill_data.feedback") / "rubrics" / "v1"
    for name in ("system", "request", "retry", *ASPECTS):
        text = (folder / f"{name}.md").read_text(encoding="utf-8")
        assert described["sha256"][name] == hashlib.sha256(text.encode()).hexdigest()
    # An instruction that contains braces and a placeholder is inserted verbatim, not re-expanded.
    system, user = rubrics.messages("instruction_following", "Print {x} and {{rubric}} in Python", ["a", "b {{texts}}"])
    assert system["role"] == "system" and user["role"] == "user"
    content = user["content"]
    assert "Print {x} and {{rubric}} in Python" in content
    assert "<text 1>\na\n</text 1>\n\n<text 2>\nb {{texts}}\n</text 2>" in content
    assert "**instruction following**" in content and "Full compliance" in content
    assert "for all 2 responses" in content and "{{" not in content.replace("{{rubric}}", "").replace("{{texts}}", "")
    retry = rubrics.retry("no rating found", 2)
    assert retry["role"] == "user" and "no rating found" in retry["content"] and "all 2 responses" in retry["content"]
    with pytest.raises(ConfigError, match="no rubric version 'v0'"):
        load_rubrics("v0")


def test_aspects_option() -> None:
    assert parse_aspects("honesty, helpfulness") == ("honesty", "helpfulness")
    with pytest.raises(ConfigError, match=r"unknown aspect.*harmlessness"):
        parse_aspects("helpfulness,harmlessness")
    with pytest.raises(ConfigError, match="named twice"):
        parse_aspects("honesty,honesty")


def test_principles_are_seeded_per_completion_and_follow_the_weights() -> None:
    mix = PrincipleMix.parse("helpfulness=3,honesty")
    picks = [mix.pick(42, "model", f"prompt {i}", "0") for i in range(2000)]
    assert picks == [mix.pick(42, "model", f"prompt {i}", "0") for i in range(2000)]  # same inputs, same pick
    counts = Counter(principle for principle, _ in picks)
    assert set(counts) == {"helpfulness", "honesty"}
    assert 0.70 < counts["helpfulness"] / 2000 < 0.80  # weight 3 of 4
    assert {system for principle, system in picks if principle == "helpfulness"} == set(PRINCIPLES["helpfulness"])
    assert [mix.pick(7, "model", f"prompt {i}", "0") for i in range(50)] != picks[:50]  # another seed differs
    assert PrincipleMix.parse("all").to_dict() == dict.fromkeys(PRINCIPLES, 1.0)
    for bad, message in [
        ("kindness", "unknown principle 'kindness'"),
        ("honesty=0", "must be positive"),
        (",", "at least"),
    ]:
        with pytest.raises(ConfigError, match=message):
            PrincipleMix.parse(bad)


def test_endpoint_specs() -> None:
    endpoint = parse_endpoint("meta-llama/Llama-3.1-8B-Instruct@http://localhost:8000/v1/")
    assert (endpoint.name, endpoint.url, endpoint.api_key_env) == (
        "meta-llama/Llama-3.1-8B-Instruct",
        "http://localhost:8000/v1/chat/completions",
        None,
    )
    assert parse_endpoint("gpt-4o@https://api.openai.com/v1#OPENAI_API_KEY").api_key_env == "OPENAI_API_KEY"
    assert (
        parse_endpoint("m@http://h:1/v1/chat/completions", default_key_env="K").url == "http://h:1/v1/chat/completions"
    )
    assert parse_endpoint("m@http://h:1/v1", default_key_env="K").api_key_env == "K"
    assert parse_endpoint("user@org/model@http://h:1/v1").name == "user@org/model"
    with pytest.raises(ConfigError, match="expected NAME@URL"):
        parse_endpoint("just-a-name")
    with pytest.raises(ConfigError, match="carries credentials") as raised:
        parse_endpoint("m@https://me:sk-secret@api.example.com/v1")
    assert "sk-secret" not in str(raised.value)
    with pytest.raises(ConfigError, match="given twice"):
        parse_endpoints(["a@http://h/v1", "a@http://other/v1"], "--model", None)
    with pytest.raises(ConfigError, match=r"FEEDBACK_UNSET_KEY.*is not set"):
        parse_endpoint("m@http://h/v1#FEEDBACK_UNSET_KEY").api_key()


def test_prices_and_costs() -> None:
    model, price = parse_price("gpt-4o=2.5/10")
    assert model == "gpt-4o" and price.cost(1_000_000, 100_000) == 3.5
    ledger = Ledger(prices={"gpt-4o": price})
    ledger["gpt-4o"].tokens_in, ledger["gpt-4o"].tokens_out = 2_000_000, 0
    ledger["free"].tokens_in = 5
    record = ledger.to_dict()
    assert record["gpt-4o"]["cost_usd"] == 5.0 and record["gpt-4o"]["cost_usd_this_run"] == 0.0
    assert "cost_usd" not in record["free"]
    with pytest.raises(ConfigError, match="expected MODEL=IN/OUT"):
        parse_price("gpt-4o=2.5")
