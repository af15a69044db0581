"""The judge's instructions: a rubric per aspect, the request framing and the retry note, versioned.

The texts live in ``rubrics/<version>/*.md`` (package data), written for this project in the spirit of
UltraFeedback's four aspects. A change to any of them is a new version folder, never an edit in place:
the version and the sha256 of every file are recorded in provenance, so a rating can be traced to the exact
words the judge read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ..errors import ConfigError
from ..presets import ASPECTS  # the aspects binarize reads

RUBRIC_VERSION = "v1"

FRAMING = ("system", "request", "retry")
Message = dict[str, str]


@dataclass(frozen=True)
class Rubrics:
    """One version of the judge's texts."""

    version: str
    texts: dict[str, str]

    def describe(self) -> dict[str, Any]:
        """Version and per-file sha256, for provenance."""
        return {
            "version": self.version,
            "sha256": {name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in self.texts.items()},
        }

    def messages(self, aspect: str, instruction: str, responses: list[str]) -> list[Message]:
        """The judge request: rate every response to ``instruction`` for ``aspect``."""
        texts = "\n\n".join(
            f"<text {number}>\n{response}\n</text {number}>" for number, response in enumerate(responses, start=1)
        )
        request = _fill(
            self.texts["request"],
            count=str(len(responses)),
            aspect=aspect.replace("_", " "),
            rubric=self.texts[aspect].strip(),
            instruction=instruction,
            texts=texts,
        )
        return [{"role": "system", "content": self.texts["system"].strip()}, {"role": "user", "content": request}]

    def retry(self, problem: str, count: int) -> Message:
        """The note that follows an unreadable answer."""
        return {"role": "user", "content": _fill(self.texts["retry"], problem=problem, count=str(count)).strip()}


def _fill(template: str, **values: str) -> str:
    """Replace ``{{name}}`` placeholders in one pass (a value may itself contain braces or placeholders)."""
    out, rest = [], template
    while "{{" in rest:
        before, _, after = rest.partition("{{")
        name, closed, tail = after.partition("}}")
        if not closed or name not in values:
            out.append(before + "{{")
            rest = after
            continue
        out.append(before + values[name])
        rest = tail
    return "".join(out) + rest


@cache
def load_rubrics(version: str = RUBRIC_VERSION) -> Rubrics:
    folder = resources.files("distill_data.feedback") / "rubrics" / version
    if not folder.is_dir():
        raise ConfigError(f"no rubric version {version!r}")
    return Rubrics(version, {name: (folder / f"{name}.md").read_text(encoding="utf-8") for name in FRAMING + ASPECTS})


def parse_aspects(spec: str) -> tuple[str, ...]:
    """``helpfulness,honesty`` -> the aspects, in the order given; unknown or repeated names are errors."""
    aspects = tuple(part.strip() for part in spec.split(",") if part.strip())
    unknown = [aspect for aspect in aspects if aspect not in ASPECTS]
    if unknown or not aspects:
        named = ", ".join(unknown) or "(none given)"
        raise ConfigError(f"--aspects: unknown aspect(s) {named}; known: {', '.join(ASPECTS)}")
    if len(set(aspects)) != len(aspects):
        raise ConfigError(f"--aspects: an aspect is named twice in {spec!r}")
    return aspects
