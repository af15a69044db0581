"""What a kind of dataset is: the parts of a build and of its card that differ between kinds.

Its own module, below the kinds and the registry, so a kind imports it without importing the registry that
imports the kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

if TYPE_CHECKING:
    from ..processors import Processor
    from ..recipes import Recipe
    from ..sources import RowSource

Side = Literal["train", "test", "test_half"]


@dataclass(frozen=True)
class CardText:
    """What differs between kinds of dataset in their cards."""

    title: str
    summary: str
    tags: tuple[str, ...]
    columns: tuple[str, ...]
    splits_note: str
    training: str
    limitations: tuple[str, ...]
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetKind:
    """What one kind of dataset needs beyond the common flow."""

    name: str
    make_source: Callable[[Recipe, str, int], RowSource]
    schema: Callable[[], pa.Schema]
    # split name -> (which rows, whether `messages` is cut after the last user turn)
    splits: dict[str, tuple[Side, bool]]
    # the card: its text from provenance and the steps that ran, and the plots' numbers from the rows of
    # `plot_splits`
    card_text: Callable[[dict[str, Any], Sequence[Processor]], CardText]
    plot_splits: tuple[str, ...]
    plot_columns: tuple[str, ...]
    plot_data: Callable[[Iterable[pa.Table]], dict[str, Any]]


def step_notes(steps: Sequence[Processor]) -> tuple[str, ...]:
    """What the steps that ran say about themselves for the card, in the order they ran."""
    return tuple(note for step in steps for note in step.card_notes(steps))
