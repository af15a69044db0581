"""AssistantDisclaimerFilter: drop dialogues where the assistant talks about being an AI.

Zephyr's UltraChat filtering removed replies such as "I don't have emotions" or "As an AI language model",
which teach a student model to refuse and hedge. Matching is one vectorised multi-pattern search
(polars ``str.contains_any``, Aho-Corasick) over all assistant turns of a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import polars as pl
import pyarrow as pa

from ..errors import ConfigError
from ..messages import as_list_array, turn_positions
from .base import Filter

DEFAULT_PHRASES: tuple[str, ...] = (
    "I do not have emotions",
    "I don't have emotions",
    "I do not have opinions",
    "I don't have opinions",
    "I do not have personal opinions",
    "I don't have personal opinions",
    "I do not have personal experiences",
    "I don't have personal experiences",
    "I do not have personal beliefs",
    "I don't have personal beliefs",
    "I do not have feelings",
    "I don't have feelings",
    "I do not have personal preferences",
    "I don't have personal preferences",
    "as an AI language model",
    "as an AI assistant",
    "I am an AI language model",
    "I'm an AI language model",
)

_APOSTROPHES = ("’", "‘", "ʼ", "`")


def _normalise(text: pl.Expr) -> pl.Expr:
    """Lowercase and turn typographic apostrophes into ASCII ones so phrases match either way."""
    for apostrophe in _APOSTROPHES:
        text = text.str.replace_all(apostrophe, "'", literal=True)
    return text.str.to_lowercase()


@dataclass
class AssistantDisclaimerFilter(Filter):
    """Drop a dialogue when any assistant turn contains one of ``phrases`` (case-insensitive)."""

    name: ClassVar[str] = "assistant_disclaimer_filter"
    inputs: ClassVar[tuple[str, ...]] = ("messages",)

    phrases: tuple[str, ...] = DEFAULT_PHRASES

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.phrases or not all(p.strip() for p in self.phrases):
            raise ConfigError("parameter 'phrases' must be a non-empty list of non-empty phrases")

    def drop_reasons(self, table: pa.Table) -> tuple[pa.Array, pa.Array | None]:
        lists = as_list_array(table.column("messages"))
        flat = lists.flatten()
        parents, _ = turn_positions(lists)
        patterns = pl.select(_normalise(pl.Series(self.phrases, dtype=pl.String))).to_series().to_list()
        # Only assistant turns can match: the others are left out before the (costly) normalisation.
        frame = (
            pl.DataFrame({"content": pl.Series(flat.field("content")), "role": pl.Series(flat.field("role"))})
            .with_row_index("turn")
            .filter(pl.col("role") == "assistant")
            .with_columns(_normalise(pl.col("content")).alias("normalised"))
            .filter(pl.col("normalised").str.contains_any(patterns))
        )
        reasons = np.full(len(lists), None, dtype=object)
        details = np.full(len(lists), None, dtype=object)
        for turn, normalised in zip(frame["turn"].to_list(), frame["normalised"].to_list(), strict=True):
            row = parents[turn]
            if reasons[row] is None:
                reasons[row] = "assistant_disclaimer"
                details[row] = self._matched_phrase(normalised, patterns)
        return pa.array(reasons, pa.string()), pa.array(details, pa.string())

    def _matched_phrase(self, normalised: str, patterns: list[str]) -> str:
        for phrase, pattern in zip(self.phrases, patterns, strict=True):
            if pattern in normalised:
                return phrase
        return ""
