"""The English pre-screen of LanguageFilter: cheap, conservative, and in agreement with langdetect."""

from __future__ import annotations

import functools
import json
import random
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import TEST_DATA
from helpers import dialogues
from hypothesis import given, settings
from hypothesis import strategies as st
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

from distill_data.processors import LanguageFilter, StepStats
from distill_data.processors.language import (
    LOWERS_TO_ASCII,
    detect_language,
    detect_languages,
    fasttext_language,
    plainly_english,
    plainly_english_mask,
)
from distill_data.synthetic import FOREIGN_PROMPTS


def real_prompts() -> list[str]:
    mt_bench = [json.loads(line)["turn"] for line in (TEST_DATA / "mt_bench_first_turns.jsonl").open()]
    truthful = [json.loads(line)["question"] for line in (TEST_DATA / "truthfulqa_questions.jsonl").open()]
    return mt_bench + truthful


def test_prescreened_real_prompts_are_english_for_langdetect_too() -> None:
    prompts = real_prompts()
    screened = [p for p in prompts if plainly_english(p)]
    assert len(screened) > 0.6 * len(prompts)  # it must save langdetect most of the work
    agree = sum(detect_language(p)[0] == "en" for p in screened)
    assert agree >= 0.99 * len(screened)


@pytest.mark.parametrize(
    "text",
    [
        *FOREIGN_PROMPTS,
        "Pourquoi est-ce que le ciel est bleu pendant la journee et rouge le soir quand le soleil se couche",
        "Warum ist der Himmel am Tag blau und am Abend rot wenn die Sonne langsam untergeht",
        "What is the café in the résumé of naïve coöperation with the piñata and the jalapeño?",
        "How old is the universe?",  # too short to be sure: langdetect decides
        "12345 + 678 = 13023; 99 * 2 = 198",
        "",
    ],
)
def test_what_the_prescreen_leaves_to_langdetect(text: str) -> None:
    assert not plainly_english(text)


def test_prescreen_is_counted_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    english = "Can you tell me how the water cycle works and why it is important for all of the plants?"
    table = dialogues([english, "Sure."], [FOREIGN_PROMPTS[0], "Oui."])
    stats = StepStats("language_filter")
    out = LanguageFilter().process(table, stats)
    assert out.num_rows == 1 and stats.counters["prescreened"] == 1 and stats.dropped == {"wrong_language": 1}

    calls: list[str] = []
    import distill_data.processors.language as language

    real = language.detect_languages
    monkeypatch.setattr(language, "detect_languages", lambda texts, seed=0: calls.extend(texts) or real(texts, seed))
    stats = StepStats("language_filter")
    LanguageFilter(prescreen=False, fast_screen=False).process(table, stats)
    assert len(calls) == 2 and stats.counters["prescreened"] == 0
    calls.clear()
    LanguageFilter().process(table, StepStats("language_filter"))
    assert calls == [FOREIGN_PROMPTS[0]]


def test_fast_screen_keeps_short_english_that_langdetect_misreads() -> None:
    short = ["Are you conscious?", "Is tap water safe to drink?", "What did Salieri do to Mozart?"]
    assert all(detect_language(text)[0] != "en" for text in short)  # langdetect alone drops them
    table = dialogues(*[[text, "Yes."] for text in short])
    stats = StepStats("language_filter")
    assert LanguageFilter().process(table, stats).num_rows == 3
    assert stats.counters == {"prescreened": 0, "fast_screened": 3}
    stats = StepStats("language_filter")
    assert LanguageFilter(fast_screen=False).process(table, stats).num_rows == 0
    assert stats.dropped == {"wrong_language": 3}


def test_fast_screen_only_keeps_and_every_drop_is_langdetects(monkeypatch: pytest.MonkeyPatch) -> None:
    import distill_data.processors.language as language

    asked: list[str] = []
    real = language.detect_languages
    monkeypatch.setattr(language, "detect_languages", lambda texts, seed=0: asked.extend(texts) or real(texts, seed))
    table = dialogues(*[[text, "Oui."] for text in FOREIGN_PROMPTS])
    stats = StepStats("language_filter")
    assert LanguageFilter().process(table, stats).num_rows == 0
    assert asked == list(FOREIGN_PROMPTS) and stats.counters["fast_screened"] == 0
    # Asked for French, the screen keeps the French prompts and langdetect never runs for them.
    french = [text for text in FOREIGN_PROMPTS if detect_language(text)[0] == "fr"]
    asked.clear()
    kept = LanguageFilter(languages=("fr",)).process(dialogues(*[[text, "Oui."] for text in french]), StepStats("x"))
    assert kept.num_rows == len(french) and asked == []


def test_fast_screen_agrees_with_langdetect_on_real_prompts() -> None:
    prompts = [p for p in real_prompts() if not plainly_english(p)]
    threshold = LanguageFilter.fast_screen_min_score
    screened = [p for p in prompts if (lambda r: r[0] == "en" and r[1] >= threshold)(fasttext_language(p))]
    assert len(screened) > 0.7 * len(prompts)
    # What langdetect reads otherwise is short English questions it gets wrong ("Are you conscious?" as fr).
    disagree = [p for p in screened if detect_language(p)[0] != "en"]
    assert len(disagree) <= 0.08 * len(screened)
    assert all(len(p.split()) <= 12 for p in disagree), disagree


@pytest.mark.parametrize("score", [0.0, 1.5])
def test_fast_screen_score_must_be_a_probability(score: float) -> None:
    from distill_data.errors import ConfigError

    with pytest.raises(ConfigError, match="fast_screen_min_score"):
        LanguageFilter(fast_screen_min_score=score)


# --- The faster paths equal the rules they replace -------------------------------------------------------------


def reference_detect_language(text: str, seed: int = 0) -> tuple[str | None, float]:
    """langdetect itself, as detect_language called it before its estimation loop moved to numpy."""
    if not any(ch.isalpha() for ch in text):
        return None, 0.0
    factory = _reference_factory()
    factory.seed = seed
    detector = factory.create()
    detector.append(text)
    try:
        best = detector.get_probabilities()[0]
    except (LangDetectException, IndexError):
        return None, 0.0
    return best.lang, float(best.prob)


@functools.cache
def _reference_factory() -> DetectorFactory:
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    return factory


def _varied_prompts(n: int) -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from varied_corpus import varied_ultrachat_rows

    return [row["data"][0] for row in varied_ultrachat_rows(n, seed=3)]


def test_detect_language_equals_langdetect() -> None:
    """Same language and the same probability, to the last bit, on every kind of prompt the filter sees."""
    texts = [
        *FOREIGN_PROMPTS,
        *[p for p in _varied_prompts(3000) if not plainly_english(p)][:400],
        *real_prompts()[:60],
        "Are you conscious?",
        "ok",
        "x",
        "12345 + 678",
        "",
        "https://example.com/only-a-url me@example.com",
        "ÀÉÎÕÜ ñ ç ß",
        "Tiếng Việt có dấu",
        "Hello there. Привет. 你好。مرحبا",
        "CAPITALS ONLY HERE FOR A WHILE",
    ]
    texts = [text[:1000] for text in texts]
    for seed in (0, 7):
        expected = [reference_detect_language(text, seed) for text in texts]
        assert detect_languages(texts, seed) == expected  # all texts in lockstep
        assert [detect_language(text, seed) for text in texts[:150]] == expected[:150]  # one at a time
        assert detect_languages(texts[:10], seed) == expected[:10]  # a few: one at a time


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcdeéñßxyz ABC.,'ąłżчшщαβγ中文ひらがな한글 \n")), max_size=80))
def test_detect_language_equals_langdetect_on_any_text(text: str) -> None:
    assert detect_language(text) == reference_detect_language(text)


def test_lowers_to_ascii_lists_every_such_character() -> None:
    found = [ch for ch in map(chr, range(0x80, sys.maxunicode + 1)) if any(c.isascii() for c in ch.lower())]
    assert "".join(found) == LOWERS_TO_ASCII


_PRESCREEN_PIECES = [
    *"the of and to a in is that it you i we THE The Of And aNd".split(),
    *"word cat house running quickly don't it's i'm o'clock rock'n'roll".split(),
    *"café naïve résumé Ärger straße İstanbul KELVIN 中文 Привет ا ǅ ⅰ ﬁ".split(),
    "\u212a",  # Kelvin sign: lowercases to "k"
    "\u0130",
    "’",
    "—",
    "…",
    "'",
    "''",
    "12",
    "3.5",
    "x_y",
    "```",
    "!",
    ",",
    ".",
]
_PRESCREEN_TEXT = st.lists(
    st.tuples(st.sampled_from(_PRESCREEN_PIECES), st.sampled_from([" ", "", "\n", "'", "-", " ’", "  "])),
    max_size=40,
).map(lambda parts: "".join(word + sep for word, sep in parts))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_PRESCREEN_TEXT, st.text(max_size=60)), max_size=12))
def test_prescreen_mask_equals_plainly_english(texts: list[str]) -> None:
    mask = plainly_english_mask(pa.array(texts, pa.string()))
    assert mask.tolist() == [plainly_english(text) for text in texts]


def test_prescreen_mask_equals_plainly_english_on_generated_prompts() -> None:
    from distill_data.synthetic import ultrachat_rows

    texts = _varied_prompts(4000) + [row["data"][0] for row in ultrachat_rows(1000)] + list(FOREIGN_PROMPTS)
    texts += [text.replace("a", "ä", 1) for text in texts[:300]] + [text.replace("k", "\u212a") for text in texts[:50]]
    # Near both thresholds, "a" + Kelvin sign is the word "ak" for the rule: matching ASCII words alone would count
    # a function word "a" instead.
    texts += ["the " * f + "xxxxxxxxxx " * m + "a\u212a " * 3 for f in range(0, 60, 3) for m in range(20, 40, 2)]
    expected = [plainly_english(text[:1000]) for text in texts]
    assert 0.3 * len(texts) < sum(expected) < 0.95 * len(texts)
    assert plainly_english_mask(pa.array([text[:1000] for text in texts])).tolist() == expected


def test_filter_output_equals_the_per_row_rule() -> None:
    """The whole step (prefix slicing, screens, langdetect, details, counters) as the per-row loop had it."""
    prompts = _varied_prompts(1500)[:700] + list(FOREIGN_PROMPTS) + ["", "12345", "Bonjour"]
    table = dialogues(*[[prompt, "ok"] for prompt in prompts], [("assistant", "no user turn")])
    for params in ({}, {"languages": ("fr", "de")}, {"prescreen": False, "prefix_chars": 40}, {"fast_screen": False}):
        step = LanguageFilter(**params)
        reasons, details, screened = step._classify(table)
        expected = _reference_classify(step, table)
        assert (reasons.to_pylist(), details.to_pylist(), screened) == expected


def _reference_classify(step: LanguageFilter, table: pa.Table) -> tuple[list, list, dict[str, int]]:
    from distill_data.messages import first_turn_with_role

    prompts = first_turn_with_role(table.column("messages"), "user").to_pylist()
    reasons: list[str | None] = [None] * len(prompts)
    details: list[str | None] = [None] * len(prompts)
    screened = {"prescreened": 0, "fast_screened": 0}
    for row, prompt in enumerate(prompts):
        text = (prompt or "")[: step.prefix_chars]
        if step.prescreen and plainly_english(text):
            screened["prescreened"] += 1
            if "en" in step.languages:
                continue
            lang, prob = "en", 1.0
        else:
            if step.fast_screen:
                fast_lang, score = fasttext_language(text)
                if fast_lang in step.languages and score >= step.fast_screen_min_score:
                    screened["fast_screened"] += 1
                    continue
            lang, prob = reference_detect_language(text, step.seed)
        if lang is None:
            reasons[row], details[row] = "undetectable_language", "no letters to classify"
        elif lang not in step.languages:
            reasons[row], details[row] = "wrong_language", f"{lang} (p={prob:.2f})"
    return reasons, details, screened


def test_profiles_equal_langdetects() -> None:
    """The matrix holds, bit for bit, the probabilities langdetect's factory computes, in its row and column order."""
    from distill_data.processors.language import _profiles

    factory, matrix = _profiles()
    reference = _reference_factory()
    assert factory.langlist == reference.langlist
    assert list(factory.word_lang_prob_map) == list(reference.word_lang_prob_map)
    assert matrix.tobytes() == np.array(list(reference.word_lang_prob_map.values())).tobytes()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcAB CDé É ß ščžŞȘțạẠ中文ひカ한글ئیи д\u0301\u2019 ,.")), max_size=60))
def test_ngram_extraction_equals_langdetects(text: str) -> None:
    from distill_data.processors.language import _extract_ngrams

    detector = _reference_factory().create()
    detector.append(text)
    detector.cleaning_text()
    assert _extract_ngrams(detector.text, _reference_factory().word_lang_prob_map) == detector._extract_ngrams()


def test_numpy_draws_are_pythons_random_draws_past_the_first_block() -> None:
    """The shared Mersenne Twister stream gives each text what its own seeded ``random.Random`` would, far past the
    first block of generated outputs, with gauss spares and rejected draws interleaved."""
    from distill_data.processors.language import _Draws, _PythonDraws

    sizes = [1, 2, 3, 6, 33, 257, 5000]
    samples = [[10 * j + i for i in range(size)] for j, size in enumerate(sizes)]
    for seed in (0, 12345):
        ours = _Draws(seed, samples)
        theirs = _PythonDraws([(random.Random(), seed) for _ in sizes], samples)
        picks = np.array([0, 2, 3, 5, 6])
        for round_ in range(3000):
            texts = picks if round_ % 3 else np.arange(len(sizes))
            assert ours.choices(texts).tolist() == theirs.choices(texts)
            if round_ % 7 == 0:  # one text alone, on Python integers
                assert [ours.choice(j) for j in range(len(sizes))] == [theirs.choice(j) for j in range(len(sizes))]
            if round_ % 500 == 0:
                assert [ours.gauss(j) for j in range(len(sizes))] == [theirs.gauss(j) for j in range(len(sizes))]
        assert len(ours._words) > 4096


def test_python_draws_give_the_same_languages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the numpy draws could not match (another Python's ``random``), the Python draws give the same result."""
    from distill_data.processors import language

    texts = [*FOREIGN_PROMPTS, *[p for p in _varied_prompts(600) if not plainly_english(p)][:80]]
    fast = detect_languages(texts, 3)
    monkeypatch.setattr(language, "_draws_match_random", lambda: False)
    assert detect_languages(texts, 3) == fast
