"""LanguageFilter: keep dialogues whose first user turn is in one of the configured languages."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np
import pyarrow as pa
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException

from ..errors import ConfigError
from ..messages import first_turn_with_role
from .base import Filter


@lru_cache(maxsize=1)
def _factory() -> DetectorFactory:
    """langdetect's profiles, loaded once per process (about a second)."""
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    return factory


def detect_language(text: str, seed: int = 0) -> tuple[str | None, float]:
    """The most likely language code and its probability; ``(None, 0.0)`` when the text has no letters.

    langdetect samples n-grams at random; a fresh detector with a fixed seed makes every call repeatable,
    whatever ran before it.
    """
    if not any(ch.isalpha() for ch in text):
        return None, 0.0
    factory = _factory()
    factory.seed = seed
    detector = factory.create()
    detector.append(text)
    try:
        best = detector.get_probabilities()[0]
    except (LangDetectException, IndexError):
        return None, 0.0
    return best.lang, float(best.prob)


@dataclass
class LanguageFilter(Filter):
    """Keep dialogues whose first user turn is in ``languages`` (langdetect codes such as ``en``, ``zh-cn``).

    Only the first ``prefix_chars`` characters are classified, which bounds the cost of long turns.
    Drop reasons: ``wrong_language`` (the detail names the language found) and ``undetectable_language``
    (no letters, e.g. only code or numbers).
    """

    name: ClassVar[str] = "language_filter"
    inputs: ClassVar[tuple[str, ...]] = ("messages",)

    languages: tuple[str, ...] = ("en",)
    prefix_chars: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.languages:
            raise ConfigError("parameter 'languages' must name at least one language")
        known = set(_factory().get_lang_list())
        unknown = [code for code in self.languages if code not in known]
        if unknown:
            raise ConfigError(
                f"parameter 'languages': unknown code {', '.join(map(repr, unknown))}; "
                f"langdetect knows {', '.join(sorted(known))}"
            )
        if self.prefix_chars < 1:
            raise ConfigError(f"parameter 'prefix_chars' must be positive, got {self.prefix_chars}")

    def drop_reasons(self, table: pa.Table) -> tuple[pa.Array, pa.Array | None]:
        prompts = first_turn_with_role(table.column("messages"), "user").to_pylist()
        allowed = set(self.languages)
        reasons = np.full(len(prompts), None, dtype=object)
        details = np.full(len(prompts), None, dtype=object)
        for row, prompt in enumerate(prompts):
            lang, prob = detect_language((prompt or "")[: self.prefix_chars], self.seed)
            if lang is None:
                reasons[row], details[row] = "undetectable_language", "no letters to classify"
            elif lang not in allowed:
                reasons[row], details[row] = "wrong_language", f"{lang} (p={prob:.2f})"
        return pa.array(reasons, pa.string()), pa.array(details, pa.string())
