"""The UltraChat kind: raw dialogues in, the four ultrachat_200k splits out."""

from __future__ import annotations

import pyarrow as pa

from .cards import CardText, dataset_card
from .kinds import DatasetKind
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
    card=lambda record, recipe: dataset_card(
        record,
        CardText(
            title="UltraChat SFT (distill-data)",
            summary=(
                "Multi-turn dialogues in the `messages` format, filtered the way HuggingFaceH4/ultrachat_200k was\n"
                "built for Zephyr-7B-beta, produced by distill-data from raw UltraChat rows."
            ),
            tags=("sft",),
            columns=(
                "`prompt` (string): the first user turn",
                "`prompt_id` (string): sha256 hex digest of `prompt`",
                "`messages` (list of {content, role}): the dialogue, roles alternating user/assistant",
            ),
            splits_note=(
                "`*_sft` splits hold whole dialogues; `*_gen` splits hold the same dialogues cut after the last\n"
                "user turn, for generation."
            ),
            languages=tuple(_languages(recipe)),
        ),
    ),
)
