"""Truecase: restore sentence-initial capitals and the pronoun "I" in every turn, and nothing else.

UltraChat's user turns were written by a model imitating people and often start sentences in lowercase
("how do i ...?"). The rules are deliberately narrow so that they never damage text:

* a lowercase letter that starts a turn, or starts a sentence after ``.``, ``!`` or ``?`` and whitespace,
  is uppercased ("Hello. how are you?" -> "Hello. How are you?");
* the standalone pronoun ``i`` and ``i'm``, ``i've``, ``i'd``, ``i'll`` (straight or curly apostrophe)
  become ``I``...;
* untouched: fenced and inline code, URLs, e-mail addresses, file names and dotted identifiers
  (``setup.py``, ``os.path.join``), numbers (``3.5``), words after abbreviations (``e.g.``, ``i.e.``,
  ``etc.``, ``vs.``), words lowercase by design (``iPhone``, ``eBay``, ``pH``: a capital after the first
  letter), words in ``keep_words``, and an ellipsis (``...``), which rarely ends a sentence.

Only letter case changes: the output has the same length and the same characters up to case.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from .base import Processor
from .turn_rewriter import TurnRewriter

_PROTECTED = re.compile(
    r"```.*?(?:```|\Z)"  # fenced code; an unclosed fence runs to the end of the turn
    r"|`[^`\n]+`"  # inline code
    r"|(?:https?|ftp)://\S+|www\.\S+"  # URLs
    r"|(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # e-mail addresses (the lookbehind keeps it linear)
    re.DOTALL,
)
_OPENERS = "\"'“‘(\\["
_TURN_START = re.compile(rf"^\s*[{_OPENERS}]*(?=\S)")
# A sentence boundary (punctuation, closing quotes or brackets, whitespace, opening ones) followed by a character
# that may be lowercase: others (uppercase, digits, most sentence starts) never match. As whitespace and openers
# cannot follow either, backtracking gives no other end. (tests/test_truecase.py keeps the earlier rule.)
_LOWER_SENTENCE_START = re.compile(rf"[.!?][\"'”’)\]]*\s+[{_OPENERS}]*(?=[^\s0-9A-Z{_OPENERS}])")
# "i" not after a word character, apostrophe or symbol, alone or as i'm/i've/i'd/i'll, and not before a word. The
# literal comes first, so the search jumps from one "i" to the next instead of trying a lookbehind at every position
# (the 2-character lookbehind sees the character before the "i").
_PRONOUN = re.compile(r"i(?<![\w'’.\-/\\@#$%&*+=<>\[({`]i)(?=(?:['’](?:m|ve|d|ll))?(?:$|[\s,;:!?\"”]|\.(?!\w)))")
# Characters that mark a code identifier, a path or markup rather than a word.
_IDENTIFIER = re.compile(r"\.\w|[_/\\(=<>#${}@]")
_INITIALISM = re.compile(r"^(?:\w\.){2,}$")  # e.g. i.e. a.m. U.S.
ABBREVIATIONS = frozenset(
    [
        "e.g.",
        "i.e.",
        "etc.",
        "vs.",
        "v.",
        "cf.",
        "viz.",
        "al.",
        "approx.",
        "incl.",
        "esp.",
        "fig.",
        "no.",
        "nos.",
        "vol.",
        "pp.",
        "p.",
        "ca.",
        "min.",
        "max.",
        "mr.",
        "mrs.",
        "ms.",
        "dr.",
        "prof.",
        "st.",
        "jr.",
        "sr.",
        "inc.",
        "ltd.",
        "co.",
        "corp.",
        "dept.",
        "est.",
        "a.m.",
        "p.m.",
    ]
)
# A cheap test (in polars) for the turns that may need a change; others are never touched. A turn may need one if it
# starts with a lowercase letter, if an "i" may be the pronoun, or if a sentence boundary comes before a lowercase
# letter and is not one after which truecase() never capitalises: an abbreviation ("e.g. the") or an ellipsis
# ("... and"). Those are counted apart, and a turn with no other boundary before a lowercase letter is left alone.
# Each pattern matches wherever the Python rule may apply, with two care points: Python's \s also matches U+001C-U+001F,
# which the Rust \s does not (added), and Python's \w covers more than ASCII, so only ASCII word characters exclude
# a match. The abbreviation pattern takes ASCII letters only and a token after Rust whitespace, which Python also
# takes for whitespace: it matches nothing _ends_sentence() calls a sentence end. (tests/test_truecase.py checks it.)
_TURN_START_LOWER = r"^[\s\x1c-\x1f]*[\"'“‘(\[]*\p{Lowercase}"
_MAYBE_PRONOUN = (
    r"(?:^|[^A-Za-z0-9_'’.\-/\\@#$%&*+=<>\[({`])i"  # not after a character that surely excludes it
    r"(?:['’](?:m|ve|d|ll))?(?:$|[\s\x1c-\x1f,;:!?\"”]|\.(?:$|[^A-Za-z0-9_]))"
)
_AFTER_PUNCT = r"[\"'”’)\]]*[\s\x1c-\x1f]+[\"'“‘(\[]*\p{Lowercase}"
_LOWER_BOUNDARY = "[.!?]" + _AFTER_PUNCT


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c}]" if c.isalpha() else re.escape(c) for c in word)


_NOT_A_SENTENCE_END = (
    rf"(?:(?:^|[\s\x1c-\x1f])[{_OPENERS}]*(?:{'|'.join(_any_case(a[:-1]) for a in sorted(ABBREVIATIONS))})|\.)\."
    + _AFTER_PUNCT
)
_CANDIDATE = pl.col("content").str.contains(f"{_TURN_START_LOWER}|{_MAYBE_PRONOUN}") | (
    pl.col("content").str.count_matches(_LOWER_BOUNDARY) > pl.col("content").str.count_matches(_NOT_A_SENTENCE_END)
)


def truecase(text: str, keep_words: frozenset[str] = frozenset()) -> str:
    """Apply the truecasing rules to one turn (see the module docstring)."""
    # Most turns need nothing: find the few places that could change first, and scan for protected spans (the
    # costly part) only when there are some. The regexes only match where a lowercase letter may follow.
    starts = [m.end() for m in _TURN_START.finditer(text)]
    starts += [m.end() for m in _LOWER_SENTENCE_START.finditer(text) if _ends_sentence(text, m.start())]
    starts = [pos for pos in starts if pos < len(text) and text[pos].islower()]
    pronouns = [m.start() for m in _PRONOUN.finditer(text)]
    if not starts and not pronouns:
        return text
    last = max(starts + pronouns)
    spans = list(itertools.takewhile(lambda span: span[0] <= last, (m.span() for m in _PROTECTED.finditer(text))))
    span_starts = [start for start, _ in spans]

    def is_protected(pos: int) -> bool:
        # Spans come in order and do not overlap: a binary search keeps a long turn linear, not quadratic.
        index = bisect.bisect_right(span_starts, pos) - 1
        return index >= 0 and pos < spans[index][1]

    chars = list(text)
    for pos in starts:
        if not is_protected(pos):
            word = _word_at(text, pos)
            if word not in keep_words and not _lowercase_by_design(word):
                _upper(chars, pos)
    for pos in pronouns:
        if not is_protected(pos):
            chars[pos] = "I"
    return "".join(chars)


def _ends_sentence(text: str, punct: int) -> bool:
    """Whether the punctuation at ``punct`` ends a sentence (not an ellipsis or an abbreviation)."""
    if text[punct] != ".":
        return True
    if (punct > 0 and text[punct - 1] == ".") or text.startswith("..", punct):
        return False
    token_start = punct
    while token_start > 0 and not text[token_start - 1].isspace():
        token_start -= 1
    token = text[token_start : punct + 1].lstrip(_OPENERS)
    return token.lower() not in ABBREVIATIONS and not _INITIALISM.match(token)


def _word_at(text: str, pos: int) -> str:
    end = pos
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[pos:end].rstrip(",;:!?.)]\"'”’")


def _lowercase_by_design(word: str) -> bool:
    """iPhone, eBay, pH (a capital after the first letter), or an identifier or file name."""
    return any(c.isupper() for c in word[1:]) or bool(_IDENTIFIER.search(word))


def _upper(chars: list[str], pos: int) -> None:
    upper = chars[pos].upper()
    if len(upper) == 1:  # "ß".upper() is "SS": keep the length and leave such letters alone
        chars[pos] = upper


@dataclass
class Truecase(TurnRewriter):
    """Uppercase sentence starts and the pronoun "I" in every turn; count the turns it changed."""

    name: ClassVar[str] = "truecase"
    candidates: ClassVar[pl.Expr] = _CANDIDATE

    keep_words: tuple[str, ...] = ()

    def card_notes(self, steps: Sequence[Processor]) -> tuple[str, ...]:
        return (
            "Truecasing is rule-based: it fixes sentence starts and the pronoun I, and leaves code, URLs, file "
            "names and words such as iPhone alone, but it cannot know proper nouns.",
        )

    def rewriter(self) -> Callable[[str], str]:
        keep = frozenset(self.keep_words)
        return lambda text: truecase(text, keep)
