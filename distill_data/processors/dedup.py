"""Dedup: keep the first occurrence of each normalised prompt."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from .base import Filter, Processor

_WHITESPACE = re.compile(r"\s+")


def normalise_prompt(prompt: str) -> str:
    """Case-folded, whitespace collapsed and stripped: "Hello\\n  World " and "hello world" are one prompt."""
    return _WHITESPACE.sub(" ", prompt.casefold()).strip()


def normalised_prompts(prompts: pa.Array | pa.ChunkedArray) -> list[str | None]:
    """:func:`normalise_prompt` of each prompt (null stays null), in polars for the ASCII ones.

    On ASCII text casefolding is lowercasing, and Python's whitespace is the Rust regex's plus U+001C-U+001F; other
    prompts go through :func:`normalise_prompt` itself.
    """
    series = pl.Series(prompts, dtype=pl.String)
    normalised = series.str.to_lowercase().str.replace_all(r"[\s\x1c-\x1f]+", " ").str.strip_chars(" ").to_list()
    ascii_only = pc.string_is_ascii(prompts)
    if isinstance(ascii_only, pa.ChunkedArray):
        ascii_only = ascii_only.combine_chunks()
    for row in np.flatnonzero(~ascii_only.to_numpy(zero_copy_only=False).astype(bool)).tolist():
        prompt = series[row]
        normalised[row] = None if prompt is None else normalise_prompt(prompt)
    return normalised


@dataclass
class Dedup(Filter):
    """Drop rows whose normalised ``prompt`` was seen before in this run (reason ``duplicate_prompt``).

    Only a 16-byte digest of each prompt is kept, so memory grows by tens of bytes per row. Rows are seen in
    input order, so the same row is kept whatever the batch size.
    """

    name: ClassVar[str] = "dedup"
    inputs: ClassVar[tuple[str, ...]] = ("prompt",)
    stateful: ClassVar[bool] = True

    _seen: set[bytes] = field(default_factory=set, init=False, repr=False, compare=False)

    def setup(self) -> None:
        self._seen = set()

    def card_notes(self, steps: Sequence[Processor]) -> tuple[str, ...]:
        if any(step.drops_near_duplicates for step in steps):
            return ()  # near-duplicates were removed too: that step says so
        return ("Deduplication is exact, on the normalised first user turn; near-duplicates remain.",)

    def drop_reasons(self, table: pa.Table) -> tuple[pa.Array, pa.Array | None]:
        prompts = normalised_prompts(table.column("prompt"))
        reasons = np.full(len(prompts), None, dtype=object)
        for row, prompt in enumerate(prompts):
            if prompt is None:  # no user turn: nothing to compare (the structure filter drops such rows)
                continue
            key = hashlib.blake2b(prompt.encode("utf-8"), digest_size=16).digest()
            if key in self._seen:
                reasons[row] = "duplicate_prompt"
            else:
                self._seen.add(key)
        return pa.array(reasons, pa.string()), None
