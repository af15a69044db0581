"""The UltraChat kind: raw dialogues in, the four ultrachat_200k splits out."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .cards import CardText
from .kinds import DatasetKind
from .plots import sft_data
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


def _languages(provenance: dict[str, Any]) -> tuple[str, ...]:
    for step in provenance["recipe"]["steps"]:
        if "language_filter" in step:
            return tuple(step["language_filter"]["languages"])
    return ()


def card_text(provenance: dict[str, Any]) -> CardText:
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
            "Truecasing is rule-based: it fixes sentence starts and the pronoun I, and leaves code, URLs, file "
            "names and words such as iPhone alone, but it cannot know proper nouns.",
            "Language identification (langdetect) reads only the first user turn, and its first "
            f"{_prefix_chars(provenance)} characters.",
            "Deduplication is exact, on the normalised first user turn; near-duplicates remain.",
            "The text was written by a model (UltraChat used ChatGPT); it may contain errors and biases.",
        ),
        languages=_languages(provenance),
    )


def _prefix_chars(provenance: dict[str, Any]) -> int | str:
    for step in provenance["recipe"]["steps"]:
        if "language_filter" in step:
            return step["language_filter"]["prefix_chars"]
    return "(no language filter)"


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
