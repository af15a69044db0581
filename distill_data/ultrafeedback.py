"""Re-export only, for the old import path (``distill-data binarize`` in cli.py uses it): the recipe lives in
:mod:`distill_data.recipes`, the kind in :mod:`distill_data.kinds.ultrafeedback`."""

from .recipes import binarize_recipe

__all__ = ["binarize_recipe"]
