"""StructureFilter: drop dialogues that cannot train a chat model as they are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ConfigError
from ..messages import as_list_array, turn_positions
from .base import Filter


@dataclass
class StructureFilter(Filter):
    """Drop dialogues with an empty (or whitespace-only) turn, roles out of order, no user/assistant exchange,
    or (optionally) more than ``max_chars`` characters in all.

    Roles must alternate user, assistant, user, ... and may be preceded by one system turn. Drop reasons,
    checked in this order: ``empty_turn``, ``wrong_role_order``, ``no_exchange``, ``too_long``.
    """

    name: ClassVar[str] = "structure_filter"
    inputs: ClassVar[tuple[str, ...]] = ("messages",)

    max_chars: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_chars is not None and self.max_chars < 1:
            raise ConfigError(f"parameter 'max_chars' must be positive, got {self.max_chars}")

    def drop_reasons(self, table: pa.Table) -> tuple[pa.Array, pa.Array | None]:
        lists = as_list_array(table.column("messages"))
        n = len(lists)
        flat = lists.flatten()
        parents, positions = turn_positions(lists)
        contents = flat.field("content")
        roles = flat.field("role").to_numpy(zero_copy_only=False)

        empty = pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(contents)), 0), True)
        has_empty = _any_per_row(n, parents, empty.to_numpy(zero_copy_only=False))

        first_is_system = np.zeros(n, dtype=bool)
        first_is_system[parents[(positions == 0) & (roles == "system")]] = True
        shifted = positions - first_is_system[parents]
        expected = np.where(shifted % 2 == 0, "user", "assistant")
        ok = (roles == expected) | (shifted == -1)
        wrong_order = _any_per_row(n, parents, ~ok)

        assistants = np.bincount(parents[(roles == "assistant") & ok], minlength=n)
        no_exchange = assistants == 0

        reasons = np.full(n, None, dtype=object)
        details = np.full(n, None, dtype=object)
        if self.max_chars is not None:
            lengths = np.bincount(parents, weights=pc.utf8_length(contents).to_numpy(zero_copy_only=False), minlength=n)
            too_long = lengths > self.max_chars
            reasons[too_long] = "too_long"
            details[too_long] = [f"{int(c)} characters" for c in lengths[too_long]]
        # Later assignments win: the reasons are listed from the least to the most basic problem.
        for mask, reason in (
            (no_exchange, "no_exchange"),
            (wrong_order, "wrong_role_order"),
            (has_empty, "empty_turn"),
        ):
            reasons[mask] = reason
            details[mask] = None
        return pa.array(reasons, pa.string()), pa.array(details, pa.string())


def _any_per_row(n: int, parents: np.ndarray, flags: np.ndarray) -> np.ndarray:
    result = np.zeros(n, dtype=bool)
    result[parents[flags]] = True
    return result
