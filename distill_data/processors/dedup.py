"""Dedup: keep the first occurrence of each normalised prompt."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pyarrow as pa

from .base import Filter

_WHITESPACE = re.compile(r"\s+")


def normalise_prompt(prompt: str) -> str:
    """Case-folded, whitespace collapsed and stripped: "Hello\\n  World " and "hello world" are one prompt."""
    return _WHITESPACE.sub(" ", prompt.casefold()).strip()


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

    def drop_reasons(self, table: pa.Table) -> tuple[pa.Array, pa.Array | None]:
        prompts = table.column("prompt").to_pylist()
        reasons = np.full(len(prompts), None, dtype=object)
        for row, prompt in enumerate(prompts):
            if prompt is None:  # no user turn: nothing to compare (the structure filter drops such rows)
                continue
            key = hashlib.blake2b(normalise_prompt(prompt).encode("utf-8"), digest_size=16).digest()
            if key in self._seen:
                reasons[row] = "duplicate_prompt"
            else:
                self._seen.add(key)
        return pa.array(reasons, pa.string()), None
