"""The kinds of dataset a recipe can build (its ``kind``), and what each needs beyond the common flow."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from .errors import ConfigError

if TYPE_CHECKING:
    from .cards import CardText
    from .recipes import Recipe
    from .sources import RowSource

Side = Literal["train", "test", "test_half"]


@dataclass(frozen=True)
class DatasetKind:
    """What one kind of dataset needs beyond the common flow."""

    name: str
    make_source: Callable[[Recipe, str, int], RowSource]
    schema: Callable[[], pa.Schema]
    # split name -> (which rows, whether `messages` is cut after the last user turn)
    splits: dict[str, tuple[Side, bool]]
    # the card: its text from provenance, and the plots' numbers from the rows of `plot_splits`
    card_text: Callable[[dict[str, Any]], CardText]
    plot_splits: tuple[str, ...]
    plot_columns: tuple[str, ...]
    plot_data: Callable[[Iterable[pa.Table]], dict[str, Any]]


def kinds() -> dict[str, DatasetKind]:
    from .ultrachat import ULTRACHAT
    from .ultrafeedback import ULTRAFEEDBACK

    return {kind.name: kind for kind in (ULTRACHAT, ULTRAFEEDBACK)}


def kind_by_name(name: str) -> DatasetKind:
    try:
        return kinds()[name]
    except KeyError:
        raise ConfigError(f"no dataset kind named {name!r}; known: {', '.join(kinds())}") from None


def kind_of_recipe(recipe: Recipe) -> DatasetKind:
    return kind_by_name(recipe.kind)
