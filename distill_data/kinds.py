"""The kinds of dataset a recipe can build, by the recipe's ``kind``."""

from __future__ import annotations

from .builder import DatasetKind
from .errors import ConfigError
from .recipes import Recipe


def kinds() -> dict[str, DatasetKind]:
    from .ultrachat import ULTRACHAT
    from .ultrafeedback import ULTRAFEEDBACK

    return {kind.name: kind for kind in (ULTRACHAT, ULTRAFEEDBACK)}


def kind_of_recipe(recipe: Recipe) -> DatasetKind:
    try:
        return kinds()[recipe.kind]
    except KeyError:
        raise ConfigError(f"no dataset kind named {recipe.kind!r}") from None
