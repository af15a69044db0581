"""The UltraFeedback kind: raw rated completions in, ultrafeedback_binarized-style preference pairs out.

Presets are recipes: ``zephyr`` (the Zephyr paper's method, the default), ``h4-2023`` (the exact published
HuggingFaceH4/ultrafeedback_binarized revision, defects included) and ``argilla-clean`` (no ties, no
TruthfulQA prompts). See :mod:`distill_data.processors.binarize` for the methods.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .cards import CardText
from .errors import ConfigError
from .kinds import DatasetKind
from .plots import PREFERENCE_COLUMNS, preference_data
from .presets import PRESET_NOTES, PRESETS
from .processors import Binarize, Decontaminate, NearDedup, Processor, SourceFilter
from .recipes import Recipe
from .sources.ultrafeedback import UltraFeedbackSource
from .splits import SplitConfig


def binarize_steps(
    preset: str = "zephyr",
    *,
    seed: int = 42,
    ties: str = "keep",
    decontaminate: tuple[str, ...] = (),
    near_dedup: float | None = None,
) -> list[Processor]:
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    steps: list[Processor] = [Decontaminate(benchmarks=tuple(decontaminate))] if decontaminate else []
    if preset == "argilla-clean":
        steps.append(SourceFilter(exclude=("truthful_qa",)))
    steps.append(Binarize(method=preset, ties=ties, seed=seed))
    if near_dedup is not None:  # after binarize, which then runs on the workers with the steps before it
        steps.append(NearDedup(threshold=near_dedup))
    return steps


def binarize_recipe(
    inputs: list[str],
    *,
    preset: str = "zephyr",
    seed: int = 42,
    ties: str = "keep",
    test_size: float | int = 2000,
    max_samples: int | None = None,
    format: str = "parquet",
    decontaminate: tuple[str, ...] = (),
    near_dedup: float | None = None,
) -> Recipe:
    """The binarization recipe for a preset; the same seed drives the rejected pick and the split."""
    return Recipe(
        "ultrafeedback",
        list(inputs),
        binarize_steps(preset, seed=seed, ties=ties, decontaminate=decontaminate, near_dedup=near_dedup),
        SplitConfig(test_size=test_size, max_samples=max_samples, seed=seed),
        format,
    )


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


def _methods(recipe: Recipe) -> list[str]:
    return [step.method for step in recipe.steps if isinstance(step, Binarize)]


def _source(recipe: Recipe, on_error: str, batch_size: int) -> UltraFeedbackSource:
    return UltraFeedbackSource(recipe.inputs, on_error, batch_size, require_overall_score="h4-2023" in _methods(recipe))


def card_text(provenance: dict[str, Any]) -> CardText:
    methods = [step["binarize"]["method"] for step in provenance["recipe"]["steps"] if "binarize" in step]
    limitations = [f"Method `{m}`: {PRESET_NOTES[m]}" for m in methods]
    if "h4-2023" in methods:
        limitations.append(
            "`h4-2023` reproduces the published revision's defects on purpose (overall_score instead of the "
            "fine-grained ratings, ties, positional rejects): use it to reproduce or audit, not to train anew."
        )
    if "argilla-clean" not in methods:
        limitations.append(
            "UltraFeedback contains TruthfulQA prompts: evaluating on TruthfulQA after training on this data is "
            "contaminated (the `argilla-clean` preset removes them)."
        )
    limitations.append("The ratings come from a model judge (GPT-4 in UltraFeedback) and carry its biases.")
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
        limitations=tuple(limitations),
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
