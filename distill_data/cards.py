"""The dataset card (README.md) and its plots, built from ``provenance.json`` and the written data alone.

The builder and ``distill-data card DIR`` both call :func:`write_card`, so a card can always be rebuilt
without rerunning the pipeline. The YAML is made with huggingface_hub's ``DatasetCardData``: ``configs`` map
each split to its Parquet files (so ``load_dataset(DIR)`` and the Hub viewer find them) and ``dataset_info``
holds the features and sizes computed from the files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub import DatasetCard, DatasetCardData

from . import citations
from .feedback.lineage import feedback_section
from .plots import write_plots
from .provenance import read_provenance

EXAMPLE_CHARS = 120


@dataclass(frozen=True)
class CardText:
    """What differs between kinds of dataset in their cards."""

    title: str
    summary: str
    tags: tuple[str, ...]
    columns: tuple[str, ...]
    splits_note: str
    training: str
    limitations: tuple[str, ...]
    languages: tuple[str, ...] = ()


def split_files(folder: Path) -> dict[str, list[Path]]:
    """The Parquet files of each split under ``folder/data``, in split order of provenance."""
    files: dict[str, list[Path]] = {}
    for path in sorted((folder / "data").glob("*.parquet")):
        files.setdefault(path.name.split("-")[0], []).append(path)
    return files


def row_groups(paths: list[Path], columns: tuple[str, ...] | None = None) -> Iterator[pa.Table]:
    """Every row group of the files, in order, as a table (only ``columns`` when given)."""
    for path in paths:
        parquet = pq.ParquetFile(path)
        for index in range(parquet.num_row_groups):
            yield parquet.read_row_group(index, columns=list(columns) if columns else None)


def split_configs(splits: list[str]) -> list[dict[str, Any]]:
    return [{"config_name": "default", "data_files": [{"split": s, "path": f"data/{s}-*"} for s in splits]}]


def dataset_info(folder: Path, order: list[str]) -> dict[str, Any]:
    """``dataset_info`` for the card YAML: features and, per split, rows and Arrow bytes; file sizes."""
    from datasets import DatasetInfo, Features, SplitDict, SplitInfo

    files = split_files(folder)
    names = [name for name in order if name in files]
    splits = SplitDict()
    features = None
    download_size = 0
    for name in names:
        features = features or Features.from_arrow_schema(pq.read_schema(files[name][0]))
        # Arrow bytes, one row group at a time: the split is never all in memory.
        num_bytes = sum(table.nbytes for table in row_groups(files[name]))
        num_examples = sum(pq.ParquetFile(path).metadata.num_rows for path in files[name])
        splits.add(SplitInfo(name=name, num_bytes=num_bytes, num_examples=num_examples))
        download_size += sum(path.stat().st_size for path in files[name])
    info = DatasetInfo(
        features=features,
        splits=splits,
        download_size=download_size,
        dataset_size=sum(s.num_bytes for s in splits.values()),
    )._to_yaml_dict()
    info["splits"] = sorted(info["splits"], key=lambda split: names.index(split["name"]))  # pipeline order
    return info


def write_card(folder: str | Path) -> DatasetCard:
    """(Re)build ``README.md`` and ``assets/`` of a dataset folder from its provenance and data."""
    from .kinds import kind_by_name

    folder = Path(folder)
    provenance = read_provenance(folder)
    if provenance["command"] in ("generate", "rate"):  # AI-feedback rows: their own card, without plots
        from .feedback.card import write_feedback_card

        return write_feedback_card(folder, provenance)
    kind = kind_by_name(provenance["command"])
    files = split_files(folder)
    paths = [path for split in kind.plot_splits for path in files.get(split, [])]
    plot_data = kind.plot_data(row_groups(paths, kind.plot_columns)) if paths else {}
    plots = write_plots(folder, provenance, plot_data)
    card = render_card(provenance, kind.card_text(provenance), dataset_info(folder, list(provenance["splits"])), plots)
    card.save(folder / "README.md")
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
        f"# {text.title}\n\n{text.summary}\n\nEverything below is computed from `provenance.json` (the machine-"
        "readable record of this build) and the data files.",
        "## Source data\n\n" + sources_markdown(provenance["inputs"]),
        "## Processing steps\n\n" + _steps(provenance["steps"]),
        "## Splits\n\n" + _splits(provenance, splits) + f"\n\n{text.splits_note}",
        "## Schema\n\n" + "\n".join(f"- {column}" for column in text.columns),
        "## Plots\n\n" + "\n\n".join(f"![{caption}](assets/{name})" for name, caption in plots.items()),
        "## Use\n\n```python\nfrom datasets import load_dataset\n\n"
        'ds = load_dataset("OWNER/NAME")  # or the local folder\n```\n\n' + text.training,
        "## Known limitations\n\n" + "\n".join(f"- {item}" for item in text.limitations),
        "## Citation\n\n```bibtex\n" + "\n\n".join(citations.ALL) + "\n```",
    ]
    feedback = feedback_section(provenance["inputs"])
    if feedback:
        sections.insert(2, "## AI feedback\n\n" + feedback)
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n")


def sources_markdown(inputs: list[dict[str, Any]]) -> str:
    rows = []
    for entry in inputs:
        if "hub" in entry:
            rows.append(f"| `{entry['hub']}` (Hub, split `{entry['split']}`) | revision `{entry['revision']}` |")
        else:
            rows.append(f"| `{Path(entry['path']).name}` ({entry['bytes']:,} bytes) | sha256 `{entry['sha256']}` |")
    return "| input | revision or checksum |\n|---|---|\n" + "\n".join(rows)


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


def size_category(rows: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return label
    return "1M<n<10M"
