"""Truecase: sentence-initial capitals and the pronoun "I", and nothing else."""

from __future__ import annotations

import bisect
import re
import sys
from pathlib import Path

import polars as pl
import pytest
from helpers import contents, dialogues, roles
from hypothesis import given, settings
from hypothesis import strategies as st

from distill_data.processors import StepStats, Truecase, truecase
from distill_data.processors.truecase import (
    _CANDIDATE,
    ABBREVIATIONS,
    _ends_sentence,
    _lowercase_by_design,
    _upper,
    _word_at,
)


def run(table, processor=None):
    processor = processor or Truecase()
    stats = StepStats(processor.name)
    processor.setup()
    return processor.process(table, stats), stats


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello. how are you?", "Hello. How are you?"),
        ("hello there", "Hello there"),
        ("  leading spaces", "  Leading spaces"),
        ('"quoted start', '"Quoted start'),
        ("(parenthesised start)", "(Parenthesised start)"),
        ("Wow! that works", "Wow! That works"),
        ("Really? yes.", "Really? Yes."),
        ("Done.\nnext line", "Done.\nNext line"),
        ("Done.\n\n  next paragraph", "Done.\n\n  Next paragraph"),
        ('He said "stop." then left', 'He said "stop." Then left'),
        ("It ended (really.) then", "It ended (really.) Then"),
        ("Привет. как дела?", "Привет. Как дела?"),
        # the pronoun
        ("Yes, i think so", "Yes, I think so"),
        ("Yes, i'm sure", "Yes, I'm sure"),
        ("Yes, i've seen it", "Yes, I've seen it"),
        ("Yes, i'd like that", "Yes, I'd like that"),
        ("Yes, i'll go", "Yes, I'll go"),
        ("Yes, i’m sure", "Yes, I’m sure"),
        ("Yes, i’ve seen it", "Yes, I’ve seen it"),
        ("Yes, i’d like that", "Yes, I’d like that"),
        ("Yes, i’ll go", "Yes, I’ll go"),
        ("It was i.", "It was I."),
        ("Could i? maybe", "Could I? Maybe"),
        ("what do i do", "What do I do"),
        # several rules in one turn
        ("i think so. i'm sure! and you?", "I think so. I'm sure! And you?"),
    ],
)
def test_capitalises(text, expected):
    assert truecase(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # code
        "```\nfoo. bar\ni = 1\n```",
        "Example:\n```python\nx = 1. y = 2\nfor i in range(3): pass\n```\nDone.",
        "Unclosed fence:\n```\nfoo. bar i",
        "Run `ls. foo` and `i` here",
        # URLs and e-mail addresses
        "https://example.com is a site",
        "www.example.com is a site",
        "Open https://example.com/i now",
        "ftp://files.example.com/i is the path",
        "Write to me. bob@example.com works",
        "bob.smith@example.com is my address",
        # file names and dotted identifiers
        "setup.py holds the config",
        "Look. os.path.join is useful",
        "Look. __init__.py is special",
        # numbers
        "It costs 3.5 dollars",
        "Version 1.2.3 is out",
        # abbreviations
        "Fruits, e.g. apples",
        "That is, i.e. this",
        "Apples, pears, etc. are fruit",
        "Cats vs. dogs",
        "Call Dr. smith today",
        "Some fruit (e.g. apples) are red",
        "Fruits, E.G. apples",
        "Meet at 5 p.m. tomorrow",
        "The U.S. economy",
        "i.e. this",
        # words lowercase by design
        "iPhone sales rose",
        "Buy one. iPhone sales rose",
        "Sold. eBay listings",
        "Measure it. pH matters",
        # ellipsis
        "Wait... what",
        "Wait.. what",
        # not the pronoun
        "Use i++ here",
        "Read a[i] now",
        "The i-th element",
        "Item (i) first",
        "Variable $i here",
        "It is in the bin",
        # a letter whose uppercase is longer is left alone
        "Ja. ßig",
        # already correct
        "Already Fine. Nothing to do!",
        "",
        "   ",
    ],
)
def test_leaves_alone(text):
    assert truecase(text) == text


def test_url_unchanged_but_next_sentence_capitalised():
    assert truecase("See https://example.com/a. then go") == "See https://example.com/a. Then go"


def test_file_name_ending_a_sentence():
    assert truecase("Edit config.yaml. it works") == "Edit config.yaml. It works"


def test_eszett_keeps_length():
    text = "Ok. ßtraße"
    result = truecase(text)
    assert len(result) == len(text)
    assert result == text


def test_keep_words():
    text = "npm install. npm works"
    assert truecase(text) == "Npm install. Npm works"
    assert truecase(text, frozenset({"npm"})) == text
    # a word is compared without trailing punctuation
    assert truecase("npm, yarn. npm!", frozenset({"npm"})) == "npm, yarn. npm!"


def test_processor_keep_words():
    table = dialogues(["npm install. npm works", "ok. fine"])
    out, stats = run(table, Truecase(keep_words=("npm",)))
    assert contents(out) == [["npm install. npm works", "Ok. Fine"]]
    assert stats.counters["turns_changed"] == 1


def test_processor_counts_changed_turns():
    table = dialogues(
        ["hello. there", "Fine.", "what do i do", "Nothing."],
        [("system", "be brief"), ("user", "Hi"), ("assistant", "Hello")],
        ["Already. Fine", "yes"],
        ids=["a", "b", "c"],
    )
    out, stats = run(table)
    assert contents(out) == [
        ["Hello. There", "Fine.", "What do I do", "Nothing."],
        ["Be brief", "Hi", "Hello"],
        ["Already. Fine", "Yes"],
    ]
    assert stats.counters["turns_changed"] == 4
    assert roles(out) == roles(table)
    assert out.column("id").to_pylist() == ["a", "b", "c"]


def test_processor_nothing_to_change():
    table = dialogues(["Hello.", "Hi there, I am fine."])
    out, stats = run(table)
    assert contents(out) == contents(table)
    assert stats.counters["turns_changed"] == 0


def test_processor_sliced_table():
    table = dialogues(["hello", "x"], ["one. two", "i am"], ["three", "Four"]).slice(1)
    out, stats = run(table)
    assert contents(out) == [["One. Two", "I am"], ["Three", "Four"]]
    assert stats.counters["turns_changed"] == 3


_TRICKY = st.text(
    alphabet=st.sampled_from(list("iIaAbzß.!?'’\"“”()[]`:/@…ıİǆ \n\t,;-_.$")),
    max_size=40,
)
_SAFE_CHARS = st.characters(blacklist_categories=("Cs",))
_TEXT = st.one_of(_TRICKY, st.text(_SAFE_CHARS, max_size=40))


@settings(max_examples=300, deadline=None)
@given(st.one_of(_TRICKY, st.text(max_size=40)))
def test_only_letter_case_changes(text):
    result = truecase(text)
    assert len(result) == len(text)
    for before, after in zip(text, result, strict=True):
        assert after == before or after == before.upper()


@settings(max_examples=200, deadline=None)
@given(st.one_of(_TRICKY, st.text(max_size=40)))
def test_idempotent(text):
    once = truecase(text)
    assert truecase(once) == once


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_TEXT, min_size=1, max_size=4), min_size=1, max_size=4))
def test_batch_path_equals_truecase(convs):
    """process() only rewrites turns its pre-filter flags; that must never change the result."""
    out, stats = run(dialogues(*convs))
    expected = [[truecase(s) for s in conv] for conv in convs]
    assert contents(out) == expected
    changed = sum(a != b for conv, exp in zip(convs, expected, strict=True) for a, b in zip(conv, exp, strict=True))
    assert stats.counters["turns_changed"] == changed


@pytest.mark.parametrize("text", ["\x1fa", "Ok.\x1cthen", "Ok.\x1d\x1ethen"])
def test_batch_path_agrees_on_ascii_separators(text):
    # Python's \s matches U+001C-U+001F and the polars pre-filter must not skip such turns.
    table = dialogues([text, "fine."])
    out = Truecase().process(table, StepStats("truecase"))
    assert contents(out)[0][0] == truecase(text) != text


# The rule as first written (one pass over every sentence boundary, protected spans always scanned), kept verbatim
# as the reference the faster truecase() must equal on any text.
_REF_PROTECTED = re.compile(
    r"```.*?(?:```|\Z)|`[^`\n]+`|(?:https?|ftp)://\S+|www\.\S+|(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.DOTALL
)
_REF_OPENERS = "\"'“‘(\\["
_REF_TURN_START = re.compile(rf"^\s*[{_REF_OPENERS}]*(?=\S)")
_REF_SENTENCE_BOUNDARY = re.compile(rf"[.!?][\"'”’)\]]*\s+[{_REF_OPENERS}]*(?=\S)")
_REF_PRONOUN = re.compile(r"(?<![\w'’.\-/\\@#$%&*+=<>\[({`])i(?=(?:['’](?:m|ve|d|ll))?(?:$|[\s,;:!?\"”]|\.(?!\w)))")


def reference_truecase(text: str, keep_words: frozenset[str] = frozenset()) -> str:
    spans = [m.span() for m in _REF_PROTECTED.finditer(text)]
    span_starts = [start for start, _ in spans]

    def is_protected(pos: int) -> bool:
        index = bisect.bisect_right(span_starts, pos) - 1
        return index >= 0 and pos < spans[index][1]

    chars = list(text)
    starts = [m.end() for m in _REF_TURN_START.finditer(text)]
    for m in _REF_SENTENCE_BOUNDARY.finditer(text):
        if not _ends_sentence(text, m.start()):
            continue
        starts.append(m.end())
    for pos in starts:
        if pos < len(text) and text[pos].islower() and not is_protected(pos):
            word = _word_at(text, pos)
            if word not in keep_words and not _lowercase_by_design(word):
                _upper(chars, pos)
    for m in _REF_PRONOUN.finditer(text):
        if not is_protected(m.start()):
            chars[m.start()] = "I"
    return "".join(chars)


# Pieces that exercise every branch: boundaries before lower/upper/digits/openers/whitespace, abbreviations and
# initialisms, ellipses, code fences (closed or not), inline code, URLs, e-mail addresses, identifiers, pronoun forms,
# letters that change length when uppercased, Python-only whitespace (U+001C-U+001F) and non-Latin scripts.
# fmt: off
_PIECES = [
    *"iIaAbzß.!?'’\"“”‘()[]`:/@…ıİǆ \n\t,;-_.$é",
    "\x1c", "\x1f", "\u2028", "\xa0", "\u3000", ". ", "! ", "? ", ".\n\n", '." ', ".) ", "... ", "…", "e.g. ", "i.e. ",
    "etc. ", "Dr. ", "a.m. ", "U.S. ", "vs. ", "No. ", "approx. ", "i ", "i'm ", "i’ve ", "i'd", "i'll", "i.", "i,",
    "i?", "i-", "pi ", "hi ", "the ", "word", "iPhone ", "eBay ", "setup.py ", "os.path.join ", "3.5 ", "```",
    "```py\n", "`code`", "`", "https://x.org/a. b", "www.site.com", "ftp://h/f ", "me@x.com", "a.b@c-d.e ", "x@y",
    "#i ", "(i) ", "[i] ", "«i» ", "ǆemal ", "ßtart ", "привет ", "как ", "中文。", "ok", "Ok", "then ", "42 ",
    "\n", "  ", "\t",
]
# fmt: on
_PIECEWISE = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(_PIECEWISE, _TRICKY, st.text(max_size=60)), st.sampled_from([frozenset(), frozenset({"then", "ok"})]))
def test_truecase_equals_the_reference_rule(text, keep_words):
    assert truecase(text, keep_words) == reference_truecase(text, keep_words)


def test_truecase_equals_the_reference_rule_on_generated_corpora():
    """Whole turns as the benchmarks make them: templated and varied text, code, other languages, mojibake."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from varied_corpus import varied_ultrachat_rows

    from distill_data.synthetic import ultrachat_rows

    turns = [turn for rows in (varied_ultrachat_rows(600), ultrachat_rows(300)) for row in rows for turn in row["data"]]
    assert len(turns) > 2000
    assert sum(truecase(turn) != turn for turn in turns) > 300
    for turn in turns:
        assert truecase(turn) == reference_truecase(turn)


def _candidates(texts: list[str]) -> list[bool]:
    return pl.DataFrame({"content": pl.Series(texts, dtype=pl.String)}).select(_CANDIDATE).to_series().to_list()


# Sentences built to probe the filter's edges: tokens (abbreviations in any case, look-alikes, "i", ellipses) before
# each kind of punctuation, closer, separator (Python-only and Unicode ones too) and opener, then a next word.
_TOKENS = (
    [a[:-1] for a in ABBREVIATIONS]
    + [a[:-1].upper() for a in ABBREVIATIONS]
    + [
        *[
            "Word",
            "x",
            "i",
            "I",
            ".",
            "..",
            "Dr",
            "dR",
            "U.S",
            "ſt",
            "İ.e",
            "\u212a",
            "e.g",
            "eg",
            "i.e",
            "a.m",
            "3",
            "",
        ],
    ]
)
_SENTENCES = st.lists(
    st.tuples(
        st.sampled_from([" ", "(", "“", "\x1c", "\u2028", "", "x", "\n", "\xa0"]),
        st.sampled_from(_TOKENS),
        st.sampled_from([".", "!", "?", "..", "", ",", "'m"]),
        st.sampled_from(["", ")", "”", "'", '"', "]", ".)"]),
        st.sampled_from([" ", "\n", "\x1c", "\x1f", "\u2028", "\xa0", "\t", "\u3000", "\x85", "", "  "]),
        st.sampled_from(["", "(", "“", '"', "[", "‘"]),
        st.sampled_from(["the", "Then", "i", "i'm", "ǆ", "ß", "éa", "1", "ok", "iPhone", "", "ı"]),
    ),
    max_size=6,
).map(lambda parts: "Z" + "".join("".join(part) for part in parts))


@pytest.mark.slow  # 3,000 examples, about 30 s: run by .ci/run's slow step
@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(_SENTENCES, _PIECEWISE, _TRICKY, st.text(max_size=60)), min_size=1, max_size=8))
def test_candidate_filter_keeps_every_turn_the_rule_changes(texts):
    for text, candidate in zip(texts, _candidates(texts), strict=True):
        assert candidate or reference_truecase(text) == text, text


def test_candidate_filter_on_generated_corpora_is_exact_enough():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from varied_corpus import varied_ultrachat_rows

    turns = [turn for row in varied_ultrachat_rows(600) for turn in row["data"]]
    changed = [reference_truecase(turn) != turn for turn in turns]
    flagged = _candidates(turns)
    assert all(flag for flag, change in zip(flagged, changed, strict=True) if change)
    assert sum(flagged) < 1.1 * sum(changed)  # abbreviations and "i.e." no longer send turns to Python


def test_unicode_classes_the_candidate_filter_relies_on():
    """Rust whitespace is Python whitespace (abbreviation tokens start where Python's do); Python whitespace is Rust
    whitespace or U+001C-U+001F; every character Python calls lowercase is \\p{Lowercase} in Rust."""
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    frame = pl.DataFrame({"c": chars}).select(
        space=pl.col("c").str.contains(r"^\s$"),
        separator=pl.col("c").str.contains(r"^[\s\x1c-\x1f]$"),
        lower=pl.col("c").str.contains(r"^\p{Lowercase}$"),
    )
    rust_space, separator, rust_lower = (frame[name].to_list() for name in ("space", "separator", "lower"))
    for char, space, sep, lower in zip(chars, rust_space, separator, rust_lower, strict=True):
        assert not space or char.isspace(), hex(ord(char))
        assert sep or not char.isspace(), hex(ord(char))
        assert lower or not char.islower(), hex(ord(char))
