"""The dataset card (README.md) and its plots, built from ``provenance.json`` and the written data alone.

The builder and ``distill-data card DIR`` both call :func:`write_card`, so a card can always be rebuilt
without rerunning the pipeline. The YAML is made with huggingface_hub's ``DatasetCardData``: ``configs`` map
each split to its Parquet files (so ``load_dataset(DIR)`` and the Hub viewer find them) and ``dataset_info``
holds the features and sizes computed from the files (:mod:`distill_data.card_facts`).

The card of a kind is made from the kind object (:func:`write_kind_card`): its text from the kind, its notes
from the steps recorded in provenance, which say what they did themselves (``Processor.card_notes``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from . import citations
from .card_facts import dataset_info, row_groups, size_category, sources_markdown, split_configs
from .dataset_folder import ASSETS, PROVENANCE, DatasetFolder
from .feedback.card import COMMANDS as FEEDBACK_COMMANDS
from .feedback.card import write_feedback_card
from .feedback.lineage import feedback_section
from .kinds import CardText, DatasetKind, kind_by_name
from .plots import write_plots
from .processors import processor_from_dict
from .provenance import read_provenance

EXAMPLE_CHARS = 120


def write_card(folder: str | Path) -> DatasetCard:
    """(Re)build ``README.md`` and ``assets/`` of a dataset folder from its provenance and data, whoever wrote it."""
    folder = Path(folder)
    provenance = read_provenance(folder)
    if provenance["command"] in FEEDBACK_COMMANDS:  # AI-feedback rows: their own card, without plots
        return write_feedback_card(folder, provenance)
    return write_kind_card(folder, kind_by_name(provenance["command"]), provenance)


def write_kind_card(folder: str | Path, kind: DatasetKind, provenance: dict[str, Any] | None = None) -> DatasetCard:
    """Write the card of a ``kind`` dataset: the kind's text, the notes of the steps that ran, the plots."""
    folder = Path(folder)
    provenance = read_provenance(folder) if provenance is None else provenance
    files = DatasetFolder(folder).split_files()
    paths = [path for split in kind.plot_splits for path in files.get(split, [])]
    plot_data = kind.plot_data(row_groups(paths, kind.plot_columns)) if paths else {}
    plots = write_plots(folder, provenance, plot_data)
    steps = [processor_from_dict(spec, "provenance: recipe") for spec in provenance["recipe"]["steps"]]
    text = kind.card_text(provenance, steps)
    card = render_card(provenance, text, dataset_info(folder, list(provenance["splits"])), plots)
    card.save(DatasetFolder(folder).card)
    return card


def render_card(provenance: dict[str, Any], text: CardText, info: dict[str, Any], plots: dict[str, str]) -> DatasetCard:
    splits = {s["name"]: s for s in info["splits"]}
    largest = max((s["num_examples"] for s in splits.values()), default=0)
    data = DatasetCardData(
        license="mit",
        language=list(text.languages) or None,
        task_categories=["text-generation"],
        tags=["synthetic", *text.tags, "distill-data"],
        size_categories=[size_category(largest)],
        pretty_name=text.title,
        configs=split_configs(list(splits)),
        dataset_info=info,
    )
    sections = [
        f"# {text.title}\n\n{text.summary}\n\nEverything below is computed from `{PROVENANCE}` (the machine-"
        "readable record of this build) and the data files.",
        "## Source data\n\n" + sources_markdown(provenance["inputs"]),
        "## Processing steps\n\n" + _steps(provenance["steps"]),
        "## Splits\n\n" + _splits(provenance, splits) + f"\n\n{text.splits_note}",
        "## Schema\n\n" + "\n".join(f"- {column}" for column in text.columns),
        "## Plots\n\n" + "\n\n".join(f"![{caption}]({ASSETS}/{name})" for name, caption in plots.items()),
        "## Use\n\n```python\nfrom datasets import load_dataset\n\n"
        'ds = load_dataset("OWNER/NAME")  # or the local folder\n```\n\n' + text.training,
        "## Known limitations\n\n" + "\n".join(f"- {item}" for item in text.limitations),
        "## Citation\n\n```bibtex\n" + "\n\n".join(citations.ALL) + "\n```",
    ]
    feedback = feedback_section(provenance["inputs"])
    if feedback:
        sections.insert(2, "## AI feedback\n\n" + feedback)
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n")


def _steps(steps: list[dict[str, Any]]) -> str:
    parts = []
    for number, step in enumerate(steps, start=1):
        params = json.dumps(step["params"], ensure_ascii=False)
        lines = [f"{number}. **`{step['name']}`** `{params}`: {step['rows_in']:,} rows in, {step['rows_out']:,} out."]
        for reason, count in sorted(step["dropped"].items()):
            example = (step["examples"].get(reason) or [{}])[0]
            lines.append(f"   - dropped `{reason}`: {count:,}{_example(example)}")
        for counter, count in sorted(step["counters"].items()):
            lines.append(f"   - {counter}: {count:,}")
        parts.append("\n".join(lines))
    return "\n".join(parts)


def _example(example: dict[str, Any]) -> str:
    text = example.get("first_turn") or example.get("prompt")
    if not text:
        return ""
    shown = _one_line(text)
    shown = shown if len(shown) <= EXAMPLE_CHARS else shown[:EXAMPLE_CHARS].rstrip() + "…"
    detail = f" ({_one_line(example['detail'])})" if example.get("detail") else ""
    return f', e.g. "{shown}"{detail}'


def _one_line(text: str) -> str:
    """Whitespace collapsed and backticks softened, so a quoted example cannot break the Markdown around it."""
    return re.sub(r"\s+", " ", text).strip().replace("`", "ʼ")


def _splits(provenance: dict[str, Any], splits: dict[str, dict[str, Any]]) -> str:
    rows = [
        f"| {name} | {rows:,} | {splits[name]['num_bytes']:,} |" if name in splits else f"| {name} | 0 | - |"
        for name, rows in provenance["splits"].items()
    ]
    return "| split | rows | bytes (Arrow) |\n|---|---|---|\n" + "\n".join(rows)
