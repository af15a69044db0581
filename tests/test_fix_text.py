"""FixText: mojibake and HTML entities repaired, legitimate characters left alone."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import polars as pl
import pytest
from helpers import contents, dialogues, roles
from hypothesis import given, settings
from hypothesis import strategies as st

from distill_data.processors import FixText, StepStats

SAMPLES = Path(__file__).parent / "data"  # real rows copied from the shared samples


def run(table, processor=None):
    processor = processor or FixText()
    stats = StepStats(processor.name)
    processor.setup()
    return processor.process(table, stats), stats


def fix_one(text: str) -> str:
    out, _ = run(dialogues([text]))
    return contents(out)[0][0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Mona Lisa doesnâ€™t have eyebrows.", "The Mona Lisa doesn’t have eyebrows."),
        # "café" encoded as UTF-8 and decoded as Windows-1252.
        ("cafÃ©", "café"),
        ("Fish &amp; chips", "Fish & chips"),
        ("caf&eacute;", "café"),
        ("She said &quot;hi&quot;", 'She said "hi"'),
        ("5 &lt; 6", "5 < 6"),
        # Windows line endings become "\n" (fix_line_breaks).
        ("one\r\ntwo", "one\ntwo"),
        # Terminal colour codes are removed.
        ("\x1b[31mred\x1b[0m text", "red text"),
        # Decomposed "e" + combining acute accent is normalised to NFC.
        ("cafe\u0301", "caf\u00e9"),
    ],
)
def test_repairs(text, expected):
    assert fix_one(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "<b>&amp;</b>",  # contains "<": treated as HTML source, entities kept
        "if a < b &amp;&amp; c: pass",
        "“Double” and ‘single’ curly quotes",
        "ﬁnd the ﬁle",  # Latin ligature
        "ＡＢ！",  # full-width letters and punctuation
        "我怎样才能快速提高我的中文水平？",
        "日本語を勉強したいです。",
        "Great job 🎉👍 see you 😀",
        "Plain ASCII text, with punctuation: (a) [b] {c} 100% #1 ~ ^ | \\ / * + = - _",
        "Tabs\tand\nnew lines",
        "Ünïcödé naïve façade – em — dash …",
        "",
    ],
)
def test_legitimate_text_unchanged(text):
    assert fix_one(text) == text


def test_turns_changed_counts_changed_turns_and_keeps_roles():
    table = dialogues(
        ["doesnâ€™t", "fine", "Fish &amp; chips"],
        [("system", "caf&eacute;"), ("user", "ok"), ("assistant", "“kept”")],
        ["nothing", "to fix"],
        ids=["a", "b", "c"],
    )
    out, stats = run(table)
    assert contents(out) == [
        ["doesn’t", "fine", "Fish & chips"],
        ["café", "ok", "“kept”"],
        ["nothing", "to fix"],
    ]
    assert stats.counters["turns_changed"] == 3
    assert roles(out) == roles(table)
    assert out.column("id").to_pylist() == ["a", "b", "c"]
    assert out.num_rows == table.num_rows


def test_nothing_to_fix_counts_zero():
    table = dialogues(["hello", "world"], ["plain", "ascii"])
    out, stats = run(table)
    assert contents(out) == contents(table)
    assert stats.counters["turns_changed"] == 0


def test_sliced_table():
    table = dialogues(["skip me &amp;", "x"], ["doesnâ€™t", "y &amp; z"], ["last", "one"]).slice(1, 2)
    out, stats = run(table)
    assert contents(out) == [["doesn’t", "y & z"], ["last", "one"]]
    assert stats.counters["turns_changed"] == 2


def test_unescape_html_false_keeps_entities():
    out, _ = run(dialogues(["Fish &amp; chips"]), FixText(unescape_html=False))
    assert contents(out) == [["Fish &amp; chips"]]


def test_normalization_none_keeps_decomposed_text():
    text = "cafe\u0301"
    out, _ = run(dialogues([text]), FixText(normalization=None))
    assert contents(out) == [[text]]
    assert unicodedata.is_normalized("NFD", contents(out)[0][0])


def test_real_ultrachat_row_unchanged():
    row = json.loads((SAMPLES / "ultrachat_raw.jsonl").read_text(encoding="utf-8").splitlines()[0])
    table = dialogues(row["data"], ids=[row["id"]])
    out, stats = run(table)
    assert contents(out) == [row["data"]]
    assert stats.counters["turns_changed"] == 0


# Text likely to exercise ftfy: mojibake made on purpose, entities, markup, control characters, anything.
_SNIPPETS = st.sampled_from(
    ["â€™", "Ã©", "&amp;", "&eacute;", "&lt;", "<", ">", "\r\n", "\r", "\x1b[0m", "\x80", "\x9c", "\u2028", "é"]
)
_MOJIBAKE = st.text(max_size=10).map(lambda s: s.encode("utf-8").decode("latin-1"))
_TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(_SNIPPETS, st.text(max_size=5)), max_size=8).map("".join),
    _MOJIBAKE,
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=40),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_TEXT, min_size=1, max_size=4), min_size=1, max_size=4))
def test_batch_path_equals_per_string_fix(convs):
    """process() skips strings it thinks cannot need fixing; that skip must never change the result."""
    fixer = FixText()
    out, stats = run(dialogues(*convs))
    expected = [[fixer.fix(s) for s in conv] for conv in convs]
    assert contents(out) == expected
    changed = sum(a != b for conv, exp in zip(convs, expected, strict=True) for a, b in zip(conv, exp, strict=True))
    assert stats.counters["turns_changed"] == changed


_SAFE_ALPHABET = st.sampled_from(
    [chr(c) for c in range(0x20, 0x7F) if chr(c) != "&"]
    + ["\t", "\n", "’", "‘", "“", "”", "—", "–", "…", "•", "か", "カ", "中", "한", "🌂", "🙂"]
)
_RISKY_ALPHABET = st.sampled_from(
    ["â", "€", "™", "Ã", "©", "\u0301", "\r", "\x85", "&", "&amp", "&#", "&#x", "й", "Ґ", "\ufeff"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_SAFE_ALPHABET, _RISKY_ALPHABET), max_size=24).map("".join))
def test_shortcut_never_changes_a_result_near_its_boundary(text):
    out, _ = run(dialogues([text, "ok"]))
    assert contents(out)[0][0] == FixText().fix(text)


@pytest.mark.parametrize(
    "text",
    [
        "fish & chips",
        "a&&b; c & d;",
        "&amp;",
        "&AMP;",
        "&#39;",
        "&#x2019;",
        "&NTILDE;",
        "&;",
        "& amp;",
        "&" + "a" * 24 + ";",
        "&" + "a" * 25 + ";",
        "x&eacute;y",
        "&amp",
        "<b>&amp;</b>",
        "if a && b; then echo &lt; fi",
    ],
)
def test_ampersands_outside_entities_are_left_alone_and_entities_are_candidates(text):
    from distill_data.processors.fix_text import HTML_ENTITY, NEEDS_FIXING

    out, _ = run(dialogues([text, "ok"]))
    assert contents(out)[0][0] == FixText().fix(text)
    if FixText().fix(text) != text:
        assert pl.Series([text]).str.contains(NEEDS_FIXING)[0]
    assert bool(re.search(HTML_ENTITY, text)) == pl.Series([text]).str.contains(HTML_ENTITY)[0]
