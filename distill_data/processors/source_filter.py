"""SourceFilter: drop rows whose ``source`` names a benchmark or subset to leave out (e.g. truthful_qa)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from .base import Filter


@dataclass
class SourceFilter(Filter):
    """Drop rows whose ``source`` is in ``exclude`` (reason ``excluded_source``; the detail names the source).

    UltraFeedback includes TruthfulQA prompts, so preference data built from it is contaminated for that
    benchmark; argilla's cleaned binarization drops them.
    """

    name: ClassVar[str] = "source_filter"
    inputs: ClassVar[tuple[str, ...]] = ("source",)

    exclude: tuple[str, ...] = ("truthful_qa",)

    def drop_reasons(self, table: pa.Table) -> tuple[pa.Array, pa.Array | None]:
        sources = table.column("source").combine_chunks()
        excluded = pc.fill_null(pc.is_in(sources, pa.array(self.exclude, pa.string())), False)
        reasons = pc.if_else(excluded, pa.scalar("excluded_source"), pa.scalar(None, pa.string()))
        details = pc.if_else(excluded, sources, pa.scalar(None, pa.string()))
        return reasons, details
