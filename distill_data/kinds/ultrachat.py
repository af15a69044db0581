"""The UltraChat kind: raw dialogues in, the four ultrachat_200k splits out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from ..plots import sft_data
from ..processors import (
    AssistantDisclaimerFilter,
    Decontaminate,
    Dedup,
    FixText,
    LanguageFilter,
    NearDedup,
    Processor,
    PromptId,
    StructureFilter,
    Truecase,
)
from ..sources import UltraChatSource
from .base import CardText, DatasetKind, step_notes


def ultrachat_steps(
    *,
    filter: bool = True,
    truecase: bool = True,
    languages: tuple[str, ...] = ("en",),
    max_chars: int | None = None,
    decontaminate: tuple[str, ...] = (),
    near_dedup: float | None = None,
) -> list[Processor]:
    """The UltraChat 200k steps. Without ``filter``: conversion clean-up only (FixText, Truecase, PromptId), plus
    decontamination against the ``decontaminate`` benchmarks when any are given, and near-duplicate removal at
    Jaccard ``near_dedup`` when given."""
    steps: list[Processor] = [FixText()]
    if truecase:
        steps.append(Truecase())
    if filter:
        steps += [
            StructureFilter(max_chars=max_chars),
            AssistantDisclaimerFilter(),
            LanguageFilter(languages=languages),
        ]
    steps.append(PromptId())
    if decontaminate:
        steps.append(Decontaminate(benchmarks=tuple(decontaminate)))
    if filter:
        steps.append(Dedup())
    if near_dedup is not None:
        steps.append(NearDedup(threshold=near_dedup))
    return steps


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


def card_text(provenance: dict[str, Any], steps: Sequence[Processor]) -> CardText:
    """The card's text; what the steps did comes from the steps themselves (:func:`.base.step_notes`)."""
    return CardText(
        title="UltraChat SFT (distill-data)",
        summary=(
            "Multi-turn dialogues in the `messages` format, filtered the way HuggingFaceH4/ultrachat_200k was built\n"
            "for Zephyr-7B-beta (distilled SFT), produced by distill-data from raw UltraChat rows."
        ),
        tags=("sft",),
        columns=(
            "`prompt` (string): the first user turn",
            "`prompt_id` (string): sha256 hex digest of `prompt` (UTF-8)",
            "`messages` (list of {content, role}): the dialogue, roles alternating user/assistant",
        ),
        splits_note=(
            "`*_sft` splits hold whole dialogues; `*_gen` splits hold the same dialogues cut after the last user\n"
            "turn, for generation. A dialogue goes to train or test by a seeded hash of its `prompt_id` "
            f"(seed {provenance['split']['seed']}), so train and test never share a prompt."
        ),
        training=(
            "Supervised fine-tuning with TRL on the `messages` column:\n\n```python\n"
            "from trl import SFTConfig, SFTTrainer\n\n"
            'trainer = SFTTrainer(model="...", train_dataset=ds["train_sft"], eval_dataset=ds["test_sft"],\n'
            '                     args=SFTConfig(output_dir="sft", assistant_only_loss=True))\n```'
        ),
        limitations=(
            "The split construction of the published ultrachat_200k was never made public; these splits are a "
            "seeded hash of `prompt_id`, not the published ones.",
            *step_notes(steps),
            "The text was written by a model (UltraChat used ChatGPT); it may contain errors and biases.",
        ),
        # the card's `language` tag: what the language filter kept, if one ran
        languages=next((languages for step in steps if (languages := step.card_languages())), ()),
    )


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
    card_text=card_text,
    plot_splits=("train_sft", "test_sft"),
    plot_columns=("messages",),
    plot_data=sft_data,
)
