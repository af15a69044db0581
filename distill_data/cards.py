"""The dataset card (README.md) written beside the data, built with huggingface_hub's DatasetCard.

Its YAML ``configs`` map each split to its Parquet files, so ``datasets.load_dataset(DIR)`` and the Hub
viewer both find the splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData


@dataclass(frozen=True)
class CardText:
    """What differs between kinds of dataset in their cards."""

    title: str
    summary: str
    tags: tuple[str, ...]
    columns: tuple[str, ...]
    splits_note: str
    languages: tuple[str, ...] = ()
    notes: str = ""


def split_configs(splits: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "config_name": "default",
            "data_files": [{"split": split, "path": f"data/{split}-*"} for split in splits],
        }
    ]


def dataset_card(provenance: dict[str, Any], text: CardText) -> DatasetCard:
    """A minimal card: YAML metadata, what was done step by step, split sizes, columns and how to load it."""
    splits: dict[str, int] = provenance["splits"]
    data = DatasetCardData(
        license="mit",
        language=list(text.languages) or None,
        task_categories=["text-generation"],
        tags=["synthetic", *text.tags, "distill-data"],
        size_categories=[_size_category(max(splits.values(), default=0))],
        pretty_name=text.title,
        configs=split_configs([name for name, rows in splits.items() if rows]),
    )
    steps = "\n".join(
        f"| {i} | `{s['name']}` | {s['rows_in']:,} | {s['rows_out']:,} | "
        f"{', '.join(f'{k}: {v:,}' for k, v in sorted(s['dropped'].items())) or '-'} |"
        for i, s in enumerate(provenance["steps"], start=1)
    )
    split_rows = "\n".join(f"| {name} | {rows:,} |" for name, rows in splits.items())
    columns = "\n".join(f"- {column}" for column in text.columns)
    body = f"""
# {text.title}

{text.summary}
The full record of inputs (with checksums), parameters and counts is in `provenance.json`.

## Processing steps

| # | step | rows in | rows out | dropped |
|---|---|---|---|---|
{steps}

## Splits

| split | rows |
|---|---|
{split_rows}

{text.splits_note} Train and test are assigned by a seeded hash of `prompt_id` (seed {provenance["split"]["seed"]}).

## Columns

{columns}
{text.notes}
## Load

```python
from datasets import load_dataset
ds = load_dataset("path/to/this/folder")
```
"""
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n{body}")


def _size_category(rows: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return label
    return "1M<n<10M"
