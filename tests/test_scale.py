"""Scale: the same bytes whatever the number of worker processes, sharded splits, bounded memory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import write_jsonl

from distill_data import UltraChatSource, build
from distill_data.recipes import binarize_recipe, ultrachat_recipe
from distill_data.splits import SplitConfig
from distill_data.synthetic import ultrachat_rows, ultrafeedback_rows


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind", ["ultrachat", "binarize"])
def test_same_bytes_with_one_or_two_workers_and_sharded_splits(kind: str, tmp_path: Path) -> None:
    if kind == "ultrachat":
        source = write_jsonl(tmp_path / "in.jsonl", list(ultrachat_rows(600, seed=41)))
        recipe = ultrachat_recipe([str(source)], split=SplitConfig(test_size=0.1))
    else:
        source = write_jsonl(tmp_path / "in.jsonl", list(ultrafeedback_rows(600, seed=42)))
        recipe = binarize_recipe([str(source)], test_size=60)
    outputs = {}
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        build(recipe, out, batch_size=50, num_proc=workers, progress=False, shard_bytes=100_000, row_group_rows=40)
        outputs[workers] = files(out)
    assert outputs[1] == outputs[2]
    shards = sorted(name for name in outputs[1] if name.startswith("data/train_") and name.endswith(".parquet"))
    first_split = shards[0].split("/")[1].split("-")[0]
    mine = [s for s in shards if s.startswith(f"data/{first_split}-")]
    assert len(mine) > 1
    assert [s.rsplit("-", 3)[-3:] for s in mine] == [
        [f"{i:05d}", "of", f"{len(mine):05d}.parquet"] for i in range(len(mine))
    ]

    from datasets import load_dataset

    loaded = load_dataset(str(tmp_path / "out2"))
    import json

    counts = json.loads(outputs[2]["provenance.json"])["splits"]
    assert {name: len(split) for name, split in loaded.items()} == {k: v for k, v in counts.items() if v}


def _peak_arrow_bytes(rows: int, tmp_path: Path) -> int:
    source = write_jsonl(tmp_path / f"in{rows}.jsonl", list(ultrachat_rows(rows, seed=43)))
    pipeline = ultrachat_recipe([str(source)]).pipeline()
    peak = 0
    reader = UltraChatSource([str(source)], batch_size=100)
    # JSON Lines are parsed in blocks (8 MB by default, more than the small input): 64 KB blocks here, so both
    # inputs span many blocks and the peak shows whether anything grows with the input.
    reader.columnar = dataclasses.replace(reader.columnar, block_bytes=64 << 10)
    for _ in pipeline.run(reader.batches(), progress=False):
        peak = max(peak, pa.total_allocated_bytes())
    return peak


def test_memory_stays_bounded_as_the_input_grows(tmp_path: Path) -> None:
    small = _peak_arrow_bytes(300, tmp_path)
    large = _peak_arrow_bytes(3000, tmp_path)  # 30 batches of 100 rows, streamed
    assert large < 2 * small + 2**20
