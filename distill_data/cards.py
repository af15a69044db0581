"""The dataset card (README.md) written beside the data, built with huggingface_hub's DatasetCard.

Its YAML ``configs`` map each split to its Parquet files, so ``datasets.load_dataset(DIR)`` and the Hub
viewer both find the splits.
"""

from __future__ import annotations

from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData


def split_configs(splits: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "config_name": "default",
            "data_files": [{"split": split, "path": f"data/{split}-*"} for split in splits],
        }
    ]


def sft_card(provenance: dict[str, Any], languages: list[str]) -> DatasetCard:
    """A minimal card for an SFT dataset: YAML metadata, what was done, split sizes and how to load it."""
    splits: dict[str, int] = provenance["splits"]
    total = max(splits.values(), default=0)
    data = DatasetCardData(
        license="mit",
        language=languages or None,
        task_categories=["text-generation"],
        tags=["synthetic", "sft", "distill-data"],
        size_categories=[_size_category(total)],
        pretty_name="UltraChat SFT (distill-data)",
        configs=split_configs([name for name, rows in splits.items() if rows]),
    )
    steps = "\n".join(
        f"| {i} | `{s['name']}` | {s['rows_in']:,} | {s['rows_out']:,} | "
        f"{', '.join(f'{k}: {v:,}' for k, v in sorted(s['dropped'].items())) or '-'} |"
        for i, s in enumerate(provenance["steps"], start=1)
    )
    split_rows = "\n".join(f"| {name} | {rows:,} |" for name, rows in splits.items())
    body = f"""
# UltraChat SFT dataset

Multi-turn dialogues in the `messages` format, filtered the way HuggingFaceH4/ultrachat_200k was built
for Zephyr-7B-beta, produced by distill-data from raw UltraChat rows.
The full record of inputs (with checksums), parameters and counts is in `provenance.json`.

## Processing steps

| # | step | rows in | rows out | dropped |
|---|---|---|---|---|
{steps}

## Splits

| split | rows |
|---|---|
{split_rows}

`*_sft` splits hold whole dialogues; `*_gen` splits hold the same dialogues cut after the last user turn,
for generation. A dialogue goes to train or test by a seeded hash of its `prompt_id`
(seed {provenance["split"]["seed"]}).

## Columns

- `prompt` (string): the first user turn
- `prompt_id` (string): sha256 hex digest of `prompt`
- `messages` (list of {{content, role}}): the dialogue, roles alternating user/assistant

## Load

```python
from datasets import load_dataset
ds = load_dataset("path/to/this/folder")
```
"""
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}")


def _size_category(rows: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if rows < limit:
            return label
    return "1M<n<10M"
