"""The UltraFeedback kind: raw rated completions in, ultrafeedback_binarized-style preference pairs out.

A preset (:mod:`distill_data.presets`) becomes a recipe here: the prompts it removes, then the binarize step
running its method; the reader is told which optional fields the preset needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..plots import PREFERENCE_COLUMNS, preference_data
from ..presets import DEFAULT_PRESET, preset_named
from ..processors import Binarize, Decontaminate, NearDedup, Processor, SourceFilter
from ..sources.ultrafeedback import UltraFeedbackSource
from .base import CardText, DatasetKind, step_notes

if TYPE_CHECKING:
    from ..recipes import Recipe


def binarize_steps(
    preset: str = DEFAULT_PRESET,
    *,
    seed: int = 42,
    ties: str = "keep",
    decontaminate: tuple[str, ...] = (),
    near_dedup: float | None = None,
) -> list[Processor]:
    """The steps of a preset: decontamination when asked, the preset's own filter, the method, near-dedup."""
    removes = preset_named(preset).removes_sources
    steps: list[Processor] = [Decontaminate(benchmarks=tuple(decontaminate))] if decontaminate else []
    if removes:
        steps.append(SourceFilter(exclude=removes))
    steps.append(Binarize(method=preset, ties=ties, seed=seed))
    if near_dedup is not None:  # after binarize, which then runs on the workers with the steps before it
        steps.append(NearDedup(threshold=near_dedup))
    return steps


def output_schema() -> pa.Schema:
    """Columns as published, plus the chosen and rejected model names, with `datasets` features metadata."""
    from datasets import Features, List, Value

    messages = List({"content": Value("string"), "role": Value("string")})
    features = Features(
        {
            "prompt": Value("string"),
            "prompt_id": Value("string"),
            "chosen": messages,
            "rejected": messages,
            "messages": messages,
            "score_chosen": Value("float64"),
            "score_rejected": Value("float64"),
            "chosen_model": Value("string"),
            "rejected_model": Value("string"),
        }
    )
    return features.arrow_schema


def _required_fields(recipe: Recipe) -> set[str]:
    """The optional completion fields the recipe's steps need in every row."""
    return {field for step in recipe.steps for field in step.required_fields()}


def _source(recipe: Recipe, on_error: str, batch_size: int) -> UltraFeedbackSource:
    require_overall_score = "overall_score" in _required_fields(recipe)
    return UltraFeedbackSource(recipe.inputs, on_error, batch_size, require_overall_score=require_overall_score)


def card_text(provenance: dict[str, Any], steps: Sequence[Processor]) -> CardText:
    """The card's text; what the steps did (the binarization method and its defects) comes from the steps."""
    limitations = (
        *step_notes(steps),
        "The ratings come from a model judge (GPT-4 in UltraFeedback) and carry its biases.",
    )
    return CardText(
        title="UltraFeedback binarized (distill-data)",
        summary=(
            "Preference pairs (chosen, rejected) built from raw openbmb/UltraFeedback rows the way\n"
            "HuggingFaceH4/ultrafeedback_binarized was built for Zephyr-7B-beta's DPO, by distill-data."
        ),
        tags=("dpo",),
        columns=(
            "`prompt` (string), `prompt_id` (string): the instruction and the sha256 hex digest of it",
            "`chosen`, `rejected` (list of {content, role}): the user prompt, then the assistant response",
            "`messages` (list of {content, role}): the same as `chosen`",
            "`score_chosen`, `score_rejected` (float64): the scores the method compared",
            "`chosen_model`, `rejected_model` (string): the models that wrote the two responses",
        ),
        splits_note=(
            "`*_prefs` splits hold the pairs; `train_sft` holds the train pairs and `test_sft` half of the test\n"
            "pairs (as published); `*_gen` splits hold the same rows with `messages` cut to the prompt. A prompt\n"
            f"goes to train or test by a seeded hash of its `prompt_id` (seed {provenance['split']['seed']})."
        ),
        training=(
            "Direct preference optimisation with TRL on the `chosen`/`rejected` columns:\n\n```python\n"
            "from trl import DPOConfig, DPOTrainer\n\n"
            'trainer = DPOTrainer(model="...", train_dataset=ds["train_prefs"], eval_dataset=ds["test_prefs"],\n'
            '                     args=DPOConfig(output_dir="dpo", beta=0.1))\n```'
        ),
        limitations=limitations,
        languages=("en",),
    )


ULTRAFEEDBACK = DatasetKind(
    name="ultrafeedback",
    make_source=_source,
    schema=output_schema,
    splits={
        "train_prefs": ("train", False),
        "test_prefs": ("test", False),
        "train_sft": ("train", False),
        "test_sft": ("test_half", False),
        "train_gen": ("train", True),
        "test_gen": ("test_half", True),
    },
    card_text=card_text,
    plot_splits=("train_prefs", "test_prefs"),
    plot_columns=PREFERENCE_COLUMNS,
    plot_data=preference_data,
)
