"""The kinds of dataset a recipe can build (its ``kind``): one module each, and the registry of them.

A kind module (:mod:`.ultrachat`, :mod:`.ultrafeedback`) holds what differs for that kind: its steps, its
output schema and splits, its card text. The registry imports them when first asked, so importing this
package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError
from .base import CardText, DatasetKind, Side, step_notes

if TYPE_CHECKING:
    from ..recipes import Recipe

__all__ = ["CardText", "DatasetKind", "Side", "kind_by_name", "kind_of_recipe", "kinds", "step_notes"]


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
