"""Read a judge's answer into one (rating, rationale) per response, whatever shape the judge chose.

Judges are asked for UltraFeedback's format (``#### Output for Text 1`` / ``Rating: 4`` / ``Rationale: ...``),
but answer in others too: JSON, ``Text 1: 4/5 - ...``, ``[[4]]``, bold numbers, a reasoning block first. The
parser tries JSON, then sections headed by a response number, then (for a single response, or when there are
exactly as many rating lines as responses) the ratings in order. A rating is a whole number from 1 to 5
(``4``, ``4.0``, ``4/5``, ``**4**``) or ``N/A``; anything else (``6``, ``3.5``, ``8/10``) is no rating, so that
response counts as unparsed and the caller can ask again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

NA = "N/A"

_NUMBER = r"\d+(?:\.\d+)?"
_VALUE = rf"(?:N/?A\b|{_NUMBER}(?:\s*(?:/|out\s+of)\s*\d+)?)"
_HEADER = re.compile(
    r"^[ \t>#*_-]*(?:output\s+for\s+)?(?:text|response|output|completion|answer)[ \t]*#?[ \t]*(\d+)\b"
    r"[ \t*_]*(?:[:.)\]\u2013\u2014-][ \t*_]*)?",
    re.IGNORECASE | re.MULTILINE,
)
_LABELLED = re.compile(
    rf"(?:rating|score|grade)[ \t*_]*(?:\([^)\n]*\))?[ \t*_]*[:=][ \t*_\[]*({_VALUE})", re.IGNORECASE
)
_DOUBLE_BRACKET = re.compile(rf"\[\[\s*({_VALUE})\s*\]\]", re.IGNORECASE)
_FRACTION = re.compile(rf"\b({_NUMBER}\s*(?:/|out\s+of)\s*5)\b", re.IGNORECASE)
_LEADING = re.compile(rf"\A[\s*_\[]*({_VALUE})(?![\w.])", re.IGNORECASE)
_RATIONALE = re.compile(
    r"(?:rationale|explanation|reasoning|reason|justification|comment)s?[ \t*_]*[:=][ \t*_]*(.*)",
    re.IGNORECASE | re.DOTALL,
)
_RATING_LIST = re.compile(r"(?:ratings|scores)[ \t*_]*[:=][ \t*_]*\[?([^\n\]]+)", re.IGNORECASE)
_JSON_RATING_KEYS = ("rating", "score", "grade")
_JSON_RATIONALE_KEYS = ("rationale", "explanation", "reasoning", "reason", "justification", "comment")
_JSON_LIST_KEYS = ("ratings", "results", "outputs", "texts", "responses", "evaluations", "judgements", "judgments")
_TEXT_KEY = re.compile(r"(?:output\s*for\s*)?(?:text|response|output|completion|answer)?[\s_#-]*(\d+)", re.I)


@dataclass(frozen=True)
class Judgement:
    """The judge's verdict on one response."""

    rating: str  # "1".."5" or "N/A"
    rationale: str  # "N/A" when the judge gave none


def parse_judgements(reply: str, count: int) -> list[Judgement | None]:
    """One judgement per response (None where the reply gives no valid rating for it)."""
    text = _strip_reasoning(reply)
    for candidate in _json_candidates(text):
        found = _from_json(candidate, count)
        if found is not None and any(judgement is not None for judgement in found):
            return found
    sections = _sections(text)
    if sections:
        return [sections.get(number) for number in range(1, count + 1)]
    if count == 1:
        return [_judge(text)]
    starts = [match.start() for match in _LABELLED.finditer(text)]
    if len(starts) == count:
        return [_judge(text[start:end]) for start, end in zip(starts, [*starts[1:], len(text)], strict=True)]
    return _rating_list(text, count) or [None] * count


def describe_problem(judgements: list[Judgement | None]) -> str:
    """Why a parse is incomplete, for the retry note and the audit record."""
    missing = [str(number) for number, judgement in enumerate(judgements, start=1) if judgement is None]
    if len(missing) == len(judgements):
        return f"no rating found for any of the {len(judgements)} responses"
    return f"no valid rating (1 to 5, or N/A) for response {', '.join(missing)} of {len(judgements)}"


def rating_value(value: Any) -> str | None:
    """``"1"``..``"5"`` or ``"N/A"`` from a number or a string such as ``"4"``, ``"4.0"``, ``"4/5"``; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return str(int(value)) if float(value).is_integer() and 1 <= value <= 5 else None
    if not isinstance(value, str):
        return None
    text = value.strip().strip("*_[]` \t").strip()
    if re.fullmatch(r"N/?A", text, re.IGNORECASE):
        return NA
    match = re.fullmatch(rf"({_NUMBER})(?:\s*(?:/|out\s+of)\s*(\d+))?", text, re.IGNORECASE)
    if match is None or (match[2] is not None and match[2] != "5"):
        return None
    return rating_value(float(match[1]))


def _strip_reasoning(reply: str) -> str:
    """Drop a reasoning model's ``<think>...</think>`` block (or everything before a lone ``</think>``)."""
    text = re.sub(r"<think>.*?</think>", "", reply, flags=re.DOTALL | re.IGNORECASE)
    if "</think>" in text.lower():
        text = re.split(r"</think>", text, flags=re.IGNORECASE)[-1]
    return text.strip()


def _json_candidates(text: str, limit: int = 20) -> Iterator[Any]:
    """JSON objects and arrays found in the text, outermost first."""
    decoder = json.JSONDecoder()
    position, tried = 0, 0
    while tried < limit:
        starts = [i for i in (text.find("{", position), text.find("[", position)) if i >= 0]
        if not starts:
            return
        start = min(starts)
        tried += 1
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        if isinstance(value, (dict, list)):
            yield value
        position = end


def _from_json(value: Any, count: int) -> list[Judgement | None] | None:
    if isinstance(value, dict):
        lowered = {str(key).lower(): item for key, item in value.items()}
        for key in _JSON_LIST_KEYS:
            if isinstance(lowered.get(key), (list, dict)):
                return _from_json(lowered[key], count)
        numbered: dict[int, Any] = {}
        for key, item in value.items():
            match = _TEXT_KEY.fullmatch(str(key).strip())
            if match:
                numbered.setdefault(int(match[1]), item)
        if numbered:
            return [_json_item(numbered.get(number)) for number in range(1, count + 1)]
        if count == 1 and any(key in lowered for key in _JSON_RATING_KEYS):
            return [_json_item(value)]
        return None
    if isinstance(value, list):
        items: list[Judgement | None] = [None] * count
        numbers = [_json_number(item) for item in value]
        if value and all(number is not None for number in numbers):
            for number, item in zip(numbers, value, strict=True):
                if number is not None and 1 <= number <= count and items[number - 1] is None:
                    items[number - 1] = _json_item(item)
        else:
            for index, item in enumerate(value[:count]):
                items[index] = _json_item(item)
        return items
    return None


def _json_number(item: Any) -> int | None:
    """The response number an item names (``{"text": 2, ...}``), if it names one."""
    if not isinstance(item, dict):
        return None
    for key, value in item.items():
        if str(key).lower() in ("text", "index", "id", "response", "output", "number"):
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            match = _TEXT_KEY.fullmatch(str(value).strip())
            if match:
                return int(match[1])
    return None


def _json_item(item: Any) -> Judgement | None:
    if isinstance(item, dict):
        lowered = {str(key).lower(): value for key, value in item.items()}
        rating = next((rating_value(lowered[key]) for key in _JSON_RATING_KEYS if key in lowered), None)
        if rating is None:
            return None
        rationale = next((lowered[key] for key in _JSON_RATIONALE_KEYS if key in lowered), None)
        return Judgement(rating, _clean(rationale) if isinstance(rationale, str) else NA)
    rating = rating_value(item)
    return Judgement(rating, NA) if rating is not None else None


def _sections(text: str) -> dict[int, Judgement | None]:
    """Judgements of the parts headed ``Text N`` / ``Output for Text N`` / ``Response N``; the first readable wins."""
    headers = list(_HEADER.finditer(text))
    found: dict[int, Judgement | None] = {}
    ends = [header.start() for header in headers[1:]] + [len(text)]
    for header, end in zip(headers, ends[: len(headers)], strict=True):
        number = int(header[1])
        body = text[header.end() : end]
        if found.get(number) is None:
            found[number] = _judge(body)
    return found


def _judge(section: str) -> Judgement | None:
    """The rating and rationale in one response's part of the answer."""
    for pattern in (_LABELLED, _DOUBLE_BRACKET, _FRACTION, _LEADING):
        match = pattern.search(section)
        if match:
            break
    else:
        return None
    rating = rating_value(match[1])
    if rating is None:
        return None
    labelled = _RATIONALE.search(section)
    if labelled:
        rationale = labelled[1]
    elif section[: match.start()].strip(" \t\n*_[") == "":
        rationale = section[match.end() :]  # the rating came first: the rest is what the judge said
    else:
        rationale = section  # a rating inside prose: the prose is the rationale
    return Judgement(rating, _clean(rationale))


def _clean(rationale: str) -> str:
    """Without markdown emphasis, separators and a trailing list marker that belongs to the next item."""
    text = re.sub(r"\n\s*(?:\d+[.)]|[-*])\s*\Z", "", rationale.strip())
    text = text.strip().strip("*_").lstrip("]):-\u2013\u2014,. \t\n").strip()
    return text or NA


def _rating_list(text: str, count: int) -> list[Judgement | None] | None:
    """``Ratings: 4, 2, 5`` (exactly one value per response)."""
    match = _RATING_LIST.search(text)
    if match is None:
        return None
    values = [rating_value(part) for part in re.split(r"[,;]|\s+(?=\d)", match[1]) if part.strip()]
    if len(values) != count or any(value is None for value in values):
        return None
    return [Judgement(value, NA) for value in values if value is not None]
