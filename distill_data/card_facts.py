"""What every card states that is read from the data files and the provenance record, whatever wrote them.

The card YAML's ``configs`` (each split's Parquet files), ``dataset_info`` (features and sizes, computed from the
files), the size category, and the table of sources. Both the dataset cards (:mod:`distill_data.cards`) and the
AI-feedback cards (:mod:`distill_data.feedback.card`) use them, so they live below both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .dataset_folder import DatasetFolder, split_pattern


def row_groups(paths: list[Path], columns: tuple[str, ...] | None = None) -> Iterator[pa.Table]:
    """Every row group of the files, in order, as a table (only ``columns`` when given)."""
    for path in paths:
        parquet = pq.ParquetFile(path)
        for index in range(parquet.num_row_groups):
            yield parquet.read_row_group(index, columns=list(columns) if columns else None)


def split_configs(splits: list[str]) -> list[dict[str, Any]]:
    return [{"config_name": "default", "data_files": [{"split": s, "path": split_pattern(s)} for s in splits]}]


def dataset_info(folder: Path, order: list[str]) -> dict[str, Any]:
    """``dataset_info`` for the card YAML: features and, per split, rows and Arrow bytes; file sizes."""
    from datasets import DatasetInfo, Features, SplitDict, SplitInfo

    files = DatasetFolder(folder).split_files()
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


def sources_markdown(inputs: list[dict[str, Any]]) -> str:
    rows = []
    for entry in inputs:
        if "hub" in entry:
            rows.append(f"| `{entry['hub']}` (Hub, split `{entry['split']}`) | revision `{entry['revision']}` |")
        else:
            rows.append(f"| `{Path(entry['path']).name}` ({entry['bytes']:,} bytes) | sha256 `{entry['sha256']}` |")
    return "| input | revision or checksum |\n|---|---|\n" + "\n".join(rows)


def size_category(rows: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return label
    return "1M<n<10M"
