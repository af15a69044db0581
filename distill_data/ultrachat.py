"""The UltraChat job: raw dialogues in, the four ultrachat_200k splits out, in the Hub layout.

Data flows one way: source -> pipeline -> spill -> splits -> Parquet -> card and provenance, all inside a
staging folder that replaces ``output`` only when everything succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import Console

from . import splits as splitting
from .cards import sft_card
from .errors import ContractError, InputError
from .messages import MESSAGES_TYPE, truncate_after_last_user
from .processors import LanguageFilter
from .provenance import package_versions, write_provenance
from .recipes import Recipe
from .sinks import ParquetSink, check_output, staging
from .sources import UltraChatSource

SPLITS = ("train_sft", "test_sft", "train_gen", "test_gen")
OUTPUT_SCHEMA = pa.schema([("prompt", pa.string()), ("prompt_id", pa.string()), ("messages", MESSAGES_TYPE)])


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


@dataclass
class BuildResult:
    """What a run produced: where, how many rows per split, and the per-step statistics."""

    output: Path
    splits: dict[str, int]
    steps: list[dict[str, Any]]
    rows_read: int
    rejected: int


def build_ultrachat(
    recipe: Recipe,
    output: str | Path,
    *,
    overwrite: bool = False,
    on_error: str = "fail",
    batch_size: int = 10_000,
    progress: bool = True,
    console: Console | None = None,
) -> BuildResult:
    """Run ``recipe`` over its inputs and write ``output``; nothing is written if anything fails."""
    output = Path(output)
    source = UltraChatSource(list(recipe.inputs), on_error=on_error, batch_size=batch_size)
    pipeline = recipe.pipeline()
    columns = pipeline.check(source.columns)
    missing = [c for c in OUTPUT_SCHEMA.names if c not in columns]
    if missing:
        raise ContractError(f"the output needs column(s) {', '.join(missing)}: add the prompt_id step to the recipe")
    check_output(output, overwrite)

    with staging(output, overwrite) as stage:
        spill_path = stage / ".spill.arrow"
        rejects_path = stage / "rejects.jsonl"
        with rejects_path.open("w", encoding="utf-8") as rejects:
            source.rejects = rejects
            with pa.OSFile(str(spill_path), "wb") as sink, pa.ipc.new_file(sink, OUTPUT_SCHEMA) as spill:
                batches = pipeline.run(
                    source.batches(), total_rows=source.estimate_rows(), progress=progress, console=console
                )
                for batch in batches:
                    spill.write_table(batch.select(OUTPUT_SCHEMA.names).cast(OUTPUT_SCHEMA))
        if source.rejected == 0:
            rejects_path.unlink()
        if source.rows_read == 0:
            raise InputError(f"no valid rows in the input ({source.rejected} set aside, see rejects.jsonl)")

        counts = _write_splits(spill_path, stage / "data", recipe.split)
        spill_path.unlink()
        if recipe.format == "arrow":
            _save_to_disk(stage)
        record = {
            "command": "ultrachat",
            "recipe": recipe.to_dict(),
            "inputs": source.describe(),
            "on_error": on_error,
            "rows_read": source.rows_read,
            "rejected": source.rejected,
            "steps": pipeline.stats_dicts(),
            "split": recipe.split.to_dict(),
            "splits": counts,
            "columns": OUTPUT_SCHEMA.names,
            "packages": package_versions(),
        }
        write_provenance(stage / "provenance.json", record)
        sft_card(record, _languages(recipe)).save(stage / "README.md")
    return BuildResult(output, counts, record["steps"], source.rows_read, source.rejected)


def _write_splits(spill_path: Path, data_dir: Path, config: splitting.SplitConfig) -> dict[str, int]:
    """Assign each spilled row to train or test and stream it into the four split files."""
    schema = output_schema()
    with pa.memory_map(str(spill_path)) as mapped:
        reader = pa.ipc.open_file(mapped)
        prompt_ids = reader.read_all().column("prompt_id").combine_chunks() if reader.num_record_batches else []
        selected, test = splitting.assign(prompt_ids, config)
        sinks = {name: ParquetSink(data_dir / f"{name}-00000-of-00001.parquet", schema) for name in SPLITS}
        start = 0
        for index in range(reader.num_record_batches):
            batch = pa.Table.from_batches([reader.get_batch(index)])
            rows = slice(start, start + len(batch))
            start += len(batch)
            for side in ("train", "test"):
                mask = selected[rows] & (test[rows] if side == "test" else ~test[rows])
                part = batch.filter(pa.array(mask))
                sinks[f"{side}_sft"].write(part)
                gen = part.set_column(2, "messages", truncate_after_last_user(part.column("messages")))
                sinks[f"{side}_gen"].write(gen)
        for sink in sinks.values():
            sink.close()
            if sink.rows == 0:  # `datasets` cannot load an empty split: leave it out (the card lists none)
                sink.path.unlink()
    return {name: sink.rows for name, sink in sinks.items()}


def _save_to_disk(stage: Path) -> None:
    """Also write a ``DatasetDict.save_to_disk`` folder at ``arrow/`` from the Parquet splits."""
    import pyarrow.parquet as pq
    from datasets import Dataset, DatasetDict
    from datasets.table import InMemoryTable

    files = {path.name.split("-")[0]: path for path in (stage / "data").glob("*.parquet")}
    # The Parquet schema carries the `datasets` features, so the loaded tables need no cast.
    splits = {name: Dataset(InMemoryTable(pq.read_table(files[name]))) for name in SPLITS if name in files}
    DatasetDict(splits).save_to_disk(str(stage / "arrow"))


def _languages(recipe: Recipe) -> list[str]:
    for step in recipe.steps:
        if isinstance(step, LanguageFilter):
            return list(step.languages)
    return []
