"""Processors on arbitrary Unicode: they never raise, give one verdict per row, and keep the meaning of the text.

Example counts follow the hypothesis profile (``ci`` by default; ``HYPOTHESIS_PROFILE=thorough`` searches longer,
see tests/conftest.py). The pure string functions are cheap, so they get four times the profile's count.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tempfile
import time
import unicodedata
from pathlib import Path

import pyarrow as pa
import pytest
from helpers import contents, dialogues
from hypothesis import given, settings
from hypothesis import strategies as st

from distill_data.errors import InputError
from distill_data.messages import MESSAGES_TYPE
from distill_data.processors import (
    DEFAULT_PHRASES,
    AssistantDisclaimerFilter,
    Binarize,
    Decontaminate,
    Dedup,
    FixText,
    LanguageFilter,
    PromptId,
    SourceFilter,
    StepStats,
    StructureFilter,
    Truecase,
    load_benchmark,
    normalise_prompt,
    truecase,
)
from distill_data.sources.ultrafeedback import SCHEMA as FEEDBACK_SCHEMA

CHEAP = settings(max_examples=4 * settings.default.max_examples)

# Characters that stress text code: controls and NUL, BOM, bidi overrides, RTL scripts, combining marks, ZWJ
# emoji, line and paragraph separators, the letters whose case mapping changes length, and "&" (HTML entities).
HOSTILE = [
    "\x00",
    "\x1b[31m",
    "\ufeff",
    "\u202e",
    "\u200f",
    "שלום",
    "مرحبا",
    "e\u0301",
    "\u0345",
    "👩‍👩‍👧",
    "🙂",
    "\r\n",
    "\u2028",
    "\u2029",
    "ß",
    "ŉ",
    "İ",
    "ı",
    "ǅ",
    "&amp;",
    "Ã©",
    ". i ",
    "? ",
    "http://x.io/i",
    "`i`",
    "```\ni\n```",
    "a@b.co",
]
# Arbitrary text that Arrow can hold (no lone surrogates), weighted towards the hostile pieces.
TEXT = st.one_of(
    st.text(max_size=30),
    st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=5)), max_size=8).map("".join),
)
# Anything a Python string can be, lone surrogates included: the string functions must not raise on it either.
ANY_STRING = st.one_of(
    TEXT,
    st.text(st.characters(exclude_categories=()), max_size=30),
    st.lists(st.sampled_from([*HOSTILE, "\ud800", "\udfff"]), max_size=6).map("".join),
)
TURNS = st.lists(TEXT, min_size=0, max_size=5)
ROLES = st.sampled_from(["user", "assistant", "system", "", "USER"])


@st.composite
def conversations(draw: st.DrawFn) -> pa.Table:
    """1 to 4 dialogues of 0 to 5 turns, roles mostly alternating but sometimes anything."""
    convs = []
    for _ in range(draw(st.integers(1, 4))):
        turns = draw(TURNS)
        if draw(st.booleans()):
            convs.append(turns)
        else:
            convs.append([(draw(ROLES), turn) for turn in turns])
    return dialogues(*convs)


def run(processor, table: pa.Table) -> tuple[pa.Table, StepStats]:
    stats = StepStats(processor.name)
    processor.setup()
    return processor.process(table, stats), stats


# --- truecase -------------------------------------------------------------------------------------------


@CHEAP
@given(ANY_STRING)
def test_truecase_changes_only_the_case_of_lowercase_letters(text):
    """What truecase guarantees: the same length, and each character kept or a lowercase letter uppercased (a
    letter whose uppercase is longer, "ß", is kept). Not ``lower()``-equality: "ı".upper().lower() is "i"."""
    result = truecase(text)
    assert len(result) == len(text)
    for before, after in zip(text, result, strict=True):
        assert after == before or (before.islower() and after == before.upper())


PROTECTED_TOKENS = st.sampled_from(
    ["http://example.com/i.html", "www.x.io/a.b", "`i = 1`", "me.i@mail.example.org", "setup.py", "os.path.join"]
)
PROSE = st.sampled_from(["i think so.", "hello. how are you?", "ok! now", "e.g. this", "and i'm fine", "yes"])


@CHEAP
@given(st.lists(st.tuples(PROSE, PROTECTED_TOKENS), min_size=1, max_size=6))
def test_truecase_leaves_urls_code_emails_and_file_names_alone(pieces):
    text = " ".join(f"{prose} {token}" for prose, token in pieces)
    result = truecase(text)
    position = 0
    for prose, token in pieces:
        position += len(prose) + 1
        assert result[position : position + len(token)] == token
        position += len(token) + 1


@pytest.mark.parametrize(
    "text",
    [
        # Regressions: both took quadratic time (a scan of every protected span per sentence start, and an e-mail
        # pattern that backtracked over a long word), minutes for a few hundred kilobytes.
        "see `x` now. then " * 20_000,
        "a" * 200_000,
        "a." * 100_000 + " b",
    ],
    ids=["many-spans-and-sentences", "one-long-word", "long-dotted-token"],
)
def test_truecase_is_linear_on_long_turns(text):
    start = time.perf_counter()
    result = truecase(text)
    assert time.perf_counter() - start < 5.0
    assert result.lower() == text.lower()


@settings(deadline=None)
@given(conversations())
def test_truecase_processor_on_any_dialogue(table):
    out, stats = run(Truecase(), table)
    expected = [[truecase(turn) for turn in conv] for conv in contents(table)]
    assert contents(out) == expected
    changed = sum(
        a != b for conv, exp in zip(contents(table), expected, strict=True) for a, b in zip(conv, exp, strict=True)
    )
    assert stats.counters["turns_changed"] == changed


# --- fix_text (ftfy) ------------------------------------------------------------------------------------


@CHEAP
@given(ANY_STRING)
def test_fix_text_never_raises_and_returns_storable_text(text):
    fixed = FixText().fix(text)
    fixed.encode("utf-8")  # no lone surrogate is left: Arrow and Parquet can hold the result
    assert pa.array([fixed], pa.string())[0].as_py() == fixed


# Text in which ftfy sees no mojibake: any script except Latin-1/Latin Extended and Cyrillic (the ranges mis-decoded
# UTF-8 lands in), no "&" (HTML entities) and no controls.
PLAIN_CHAR = st.characters(categories=["L", "M", "N", "P", "S", "Zs"], exclude_characters="&").filter(
    lambda c: not (0x80 <= ord(c) <= 0x2FF or 0x400 <= ord(c) <= 0x52F)
)


@CHEAP
@given(st.text(PLAIN_CHAR, max_size=40))
def test_fix_text_keeps_plain_text_up_to_normalisation(text):
    fixed = FixText().fix(text)
    assert fixed == unicodedata.normalize("NFC", text)
    assert FixText().fix(fixed) == fixed


@settings(deadline=None)
@given(conversations())
def test_fix_text_processor_on_any_dialogue(table):
    fixer = FixText()
    out, _ = run(fixer, table)
    assert contents(out) == [[fixer.fix(turn) for turn in conv] for conv in contents(table)]


# --- filters: one verdict per row, never an exception ---------------------------------------------------


def assert_one_verdict_per_row(processor, table: pa.Table, allowed: set[str]) -> list[str | None]:
    reasons, details = processor.drop_reasons(table)
    assert len(reasons) == len(table)
    assert details is None or len(details) == len(table)
    verdicts = reasons.to_pylist()
    assert set(verdicts) - {None} <= allowed
    out, stats = run(processor, table)
    assert len(out) == verdicts.count(None)
    assert sum(stats.dropped.values()) == len(table) - len(out)
    return verdicts


def _normalised(text: str) -> str:
    for apostrophe in ("’", "‘", "ʼ", "`"):
        text = text.replace(apostrophe, "'")
    return text.lower()


@settings(deadline=None)
@given(conversations(), st.lists(st.sampled_from(DEFAULT_PHRASES), max_size=2), st.booleans())
def test_disclaimer_filter_on_any_dialogue(table, phrases, curly):
    if phrases:  # plant the phrases in a new last assistant turn of the first dialogue
        planted = " ".join(p.replace("'", "’") if curly else p.upper() for p in phrases)
        rows = table.column("messages").to_pylist()
        rows[0] = [*rows[0], {"content": f"well, {planted}!", "role": "assistant"}]
        table = pa.table({"messages": pa.array(rows, MESSAGES_TYPE)})
    verdicts = assert_one_verdict_per_row(AssistantDisclaimerFilter(), table, {"assistant_disclaimer"})
    patterns = [_normalised(p) for p in DEFAULT_PHRASES]
    for verdict, conv in zip(verdicts, table.column("messages").to_pylist(), strict=True):
        has_phrase = any(
            turn["role"] == "assistant" and any(p in _normalised(turn["content"]) for p in patterns) for turn in conv
        )
        if has_phrase:
            assert verdict == "assistant_disclaimer"
        elif all(turn["content"].isascii() for turn in conv):  # lowercasing agrees with Python's on ASCII
            assert verdict is None
    if phrases:
        assert verdicts[0] == "assistant_disclaimer"


@settings(deadline=None)
@given(conversations())
def test_structure_filter_on_any_dialogue(table):
    verdicts = assert_one_verdict_per_row(
        StructureFilter(max_chars=50), table, {"empty_turn", "wrong_role_order", "no_exchange", "too_long"}
    )
    for verdict, conv in zip(verdicts, table.column("messages").to_pylist(), strict=True):
        if any(not turn["content"].strip() for turn in conv):
            assert verdict == "empty_turn"
        elif verdict is None:
            roles = [turn["role"] for turn in conv]
            body = roles[1:] if roles[:1] == ["system"] else roles
            assert body and body == [("user", "assistant")[i % 2] for i in range(len(body))] and len(body) >= 2
            assert sum(len(turn["content"]) for turn in conv) <= 50


@pytest.fixture(scope="module")
def language_filter() -> LanguageFilter:
    return LanguageFilter()


@settings(deadline=None)
@given(conversations())
def test_language_filter_on_any_dialogue(language_filter, table):
    verdicts = assert_one_verdict_per_row(language_filter, table, {"wrong_language", "undetectable_language"})
    for verdict, conv in zip(verdicts, table.column("messages").to_pylist(), strict=True):
        prompt = next((turn["content"] for turn in conv if turn["role"] == "user"), "")
        if not any(ch.isalpha() for ch in prompt[: language_filter.prefix_chars]):
            assert verdict == "undetectable_language"


@settings(deadline=None)
@given(conversations())
def test_prompt_id_and_dedup_on_any_dialogue(table):
    out, _ = run(PromptId(), table)
    for conv, prompt, pid in zip(
        table.column("messages").to_pylist(),
        out.column("prompt").to_pylist(),
        out.column("prompt_id").to_pylist(),
        strict=True,
    ):
        first_user = next((turn["content"] for turn in conv if turn["role"] == "user"), None)
        assert prompt == first_user
        assert pid == (None if first_user is None else hashlib.sha256(first_user.encode("utf-8")).hexdigest())
    verdicts = assert_one_verdict_per_row(Dedup(), out, {"duplicate_prompt"})
    seen: set[str] = set()
    for verdict, prompt in zip(verdicts, out.column("prompt").to_pylist(), strict=True):
        if prompt is None:
            assert verdict is None
            continue
        key = normalise_prompt(prompt)
        assert (verdict == "duplicate_prompt") == (key in seen)
        seen.add(key)


# --- binarize: any ratings, any responses -----------------------------------------------------------------

RATING = st.one_of(st.none(), st.sampled_from([1.0, 2.0, 3.0, 4.0, 5.0]))
COMPLETION = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["m1", "m2", "m3", ""]),
        "response": TEXT,
        "helpfulness": RATING,
        "honesty": RATING,
        "instruction_following": RATING,
        "truthfulness": RATING,
        "overall_score": st.one_of(st.none(), st.floats(0, 10)),
    }
)
FEEDBACK_ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "prompt": TEXT,
            "source": st.one_of(st.none(), st.just("evol")),
            "completions": st.lists(COMPLETION, max_size=4),
        }
    ),
    min_size=1,
    max_size=4,
)


@settings(deadline=None)
@given(FEEDBACK_ROWS, st.sampled_from(["zephyr", "argilla-clean", "h4-2023"]), st.sampled_from(["keep", "drop"]))
def test_binarize_on_any_ratings(rows, method, ties):
    table = pa.Table.from_pylist(rows, schema=FEEDBACK_SCHEMA)
    out, stats = run(Binarize(method=method, ties=ties), table)
    assert len(out) + sum(stats.dropped.values()) == len(rows)
    by_prompt = {}
    for row in rows:
        by_prompt.setdefault(row["prompt"], []).append(row["completions"])
    for pair in out.to_pylist():
        assert pair["chosen"][0] == {"content": pair["prompt"], "role": "user"}
        assert pair["rejected"][0] == {"content": pair["prompt"], "role": "user"}
        responses = {(c["response"], c["model"]) for completions in by_prompt[pair["prompt"]] for c in completions}
        assert (pair["chosen"][1]["content"], pair["chosen_model"]) in responses
        assert (pair["rejected"][1]["content"], pair["rejected_model"]) in responses
        if method != "h4-2023":
            assert pair["score_chosen"] >= pair["score_rejected"]
        if method == "argilla-clean":
            assert pair["score_chosen"] > pair["score_rejected"]
        if ties == "drop":
            assert pair["score_chosen"] != pair["score_rejected"]


@pytest.mark.parametrize("method", ["zephyr", "argilla-clean", "h4-2023"])
def test_binarize_batch_without_any_completion(method):
    # Regression: a batch in which no row had a completion raised IndexError instead of dropping the rows.
    table = pa.Table.from_pylist([{"prompt": "q", "source": None, "completions": []}] * 2, schema=FEEDBACK_SCHEMA)
    out, stats = run(Binarize(method=method), table)
    assert len(out) == 0
    assert sum(stats.dropped.values()) == 2


# --- decontaminate: any prompt, any benchmark file --------------------------------------------------------------

BENCHMARK_PROMPT = st.tuples(TEXT, st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=1, max_size=6))


@settings(deadline=None)
@given(
    st.lists(BENCHMARK_PROMPT.map(lambda t: f"{t[0]} {' '.join(t[1])}"), min_size=1, max_size=4),
    st.lists(st.one_of(TEXT, st.integers(0, 3)), min_size=1, max_size=5),
    st.integers(1, 4),
)
def test_decontaminate_on_any_prompt(benchmark, picks, ngram):
    """Rows are arbitrary text, or a benchmark prompt wrapped in punctuation (still a match after normalisation)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.jsonl"
        path.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in benchmark), encoding="utf-8")
        prompts = [f"¿{benchmark[p % len(benchmark)]} ?!" if isinstance(p, int) else p for p in picks]
        table = pa.table({"prompt": pa.array(prompts, pa.string())})
        step = Decontaminate(benchmarks=(str(path),), ngram=ngram)
        verdicts = assert_one_verdict_per_row(step, table, {"benchmark_exact", "benchmark_ngram"})
    for pick, verdict in zip(picks, verdicts, strict=True):
        if isinstance(pick, int):
            assert verdict is not None


HOSTILE_BENCHMARKS = {
    "bad-json-line": ("b.jsonl", b'{"prompt": "What is the capital of France?"}\nnot json\n', "line 2", "invalid JSON"),
    "lone-surrogate": ("b.jsonl", b'{"prompt": "a\\ud800b"}\n', "line 1", "lone surrogate"),
    "not-utf8-json": ("b.json", b'[\n{"prompt": "\xff"}]', "line 2", "invalid UTF-8"),
    "not-utf8-csv": ("b.csv", b"prompt\nok\n\xff\n", None, "not UTF-8"),
    "csv-field-too-large": ("b.csv", b'prompt\n"' + b"a" * 200_000 + b'"\n', "line 2", "field larger than"),
    "damaged-parquet": ("b.parquet", b"PAR1 not really parquet", None, "not a readable Parquet file"),
    "strings-not-objects": ("b.json", b'["What is 2+2?", "Name a river."]', None, "no prompts found"),
}


@pytest.mark.parametrize("case", list(HOSTILE_BENCHMARKS))
def test_hostile_benchmark_files_are_located_errors(tmp_path, case):
    # Regression: each of these raised a traceback (JSONDecodeError, UnicodeEncodeError, csv.Error, ...).
    name, data, location, reason = HOSTILE_BENCHMARKS[case]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError) as caught:
        load_benchmark(str(path))
    assert (caught.value.file, caught.value.location) == (str(path), location)
    assert reason in caught.value.reason


def test_compressed_benchmark_file(tmp_path):
    path = tmp_path / "tqa.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"question": "What color is the sky?"}\n'))
    assert load_benchmark(str(path)) == ("tqa", ["What color is the sky?"])


@settings(deadline=None)
@given(st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=6), st.lists(TEXT, min_size=1, max_size=3))
def test_source_filter_on_any_source(sources, exclude):
    table = pa.table({"source": pa.array(sources, pa.string())})
    verdicts = assert_one_verdict_per_row(SourceFilter(exclude=tuple(exclude)), table, {"excluded_source"})
    assert verdicts == [("excluded_source" if s is not None and s in exclude else None) for s in sources]
