"""TurnRewriter: the base of steps that rewrite the text of every turn with a per-string function.

Such functions (ftfy, truecasing) have no columnar form, so the cost is in Python. A subclass names a
regular expression (``candidates``) that every string it could change matches, or a polars expression over the
column ``content`` that is true for every such string; one vectorised polars pass picks those strings and only
they reach the Python function. The base counts the changed turns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ..messages import map_contents
from .base import Processor, StepStats


def rewrite_matching(contents: pa.Array, pattern: str | pl.Expr, rewrite: Callable[[str], str]) -> pa.Array:
    """``rewrite`` applied to the strings that match ``pattern`` (a polars/Rust regex, or a boolean polars expression
    over the column ``content``); others are kept.

    Only the matching strings become Python objects; their new values are put back in place by Arrow.
    """
    test = pl.col("content").str.contains(pattern) if isinstance(pattern, str) else pattern
    candidates = pl.DataFrame({"content": pl.Series(contents)}).select(test).to_series().fill_null(False)
    if not candidates.any():
        return contents
    mask = pa.array(candidates.to_numpy())
    rewritten = [rewrite(text) for text in contents.filter(mask).to_pylist()]
    return pc.replace_with_mask(contents, mask, pa.array(rewritten, contents.type))


@dataclass
class TurnRewriter(Processor):
    """Rewrite every turn's ``content`` with :meth:`rewriter`; counter ``turns_changed``."""

    inputs: ClassVar[tuple[str, ...]] = ("messages",)
    outputs: ClassVar[tuple[str, ...]] = ("messages",)
    candidates: ClassVar[str | pl.Expr]

    def rewriter(self) -> Callable[[str], str]:
        """The per-string function, built once per batch (configuration objects are made here)."""
        raise NotImplementedError

    def process(self, table: pa.Table, stats: StepStats) -> pa.Table:
        rewrite = self.rewriter()
        messages, changed = map_contents(
            table.column("messages"), lambda contents: rewrite_matching(contents, self.candidates, rewrite)
        )
        stats.count("turns_changed", pc.sum(changed).as_py() or 0)
        return table.set_column(table.schema.get_field_index("messages"), "messages", messages)
