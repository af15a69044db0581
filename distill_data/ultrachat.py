"""The UltraChat kind: raw dialogues in, the four ultrachat_200k splits out."""

from __future__ import annotations

import pyarrow as pa

from .build import DatasetKind
from .cards import sft_card
from .processors import LanguageFilter
from .recipes import Recipe
from .sources import UltraChatSource


def output_schema() -> pa.Schema:
    """The output columns with the `datasets` features in the schema metadata (exact feature types on load)."""
    from datasets import Features, List, Value

    features = Features(
        {
            "prompt": Value("string"),
            "prompt_id": Value("string"),
            "messages": List({"content": Value("string"), "role": Value("string")}),
        }
    )
    return features.arrow_schema


def _languages(recipe: Recipe) -> list[str]:
    for step in recipe.steps:
        if isinstance(step, LanguageFilter):
            return list(step.languages)
    return []


ULTRACHAT = DatasetKind(
    name="ultrachat",
    make_source=lambda recipe, on_error, batch_size: UltraChatSource(recipe.inputs, on_error, batch_size),
    schema=output_schema,
    splits={
        "train_sft": ("train", False),
        "test_sft": ("test", False),
        "train_gen": ("train", True),
        "test_gen": ("test", True),
    },
    card=lambda record, recipe: sft_card(record, _languages(recipe)),
)
