"""Reading a Hub dataset id through `datasets.load_dataset`, against a local Hub-compatible server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BUNDLED_SAMPLE
from hub_server import REVISION, serve


@pytest.fixture()
def hub(tmp_path: Path):
    root = tmp_path / "hub"
    repo = root / "tester" / "ultrachat-mini" / "data"
    repo.mkdir(parents=True)
    lines = BUNDLED_SAMPLE.read_text(encoding="utf-8").splitlines()[:40]
    (repo / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    server, url, log = serve(root)
    yield url, log, repo / "train.jsonl"
    server.shutdown()


def cli(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # HF_ENDPOINT is read when huggingface_hub is imported, hence a fresh process.
    env = dict(
        os.environ,
        HF_ENDPOINT=url,
        HF_HUB_DISABLE_XET="1",
        HF_HOME=str(tmp_path / "hf_home"),
        HF_HUB_DISABLE_TELEMETRY="1",
    )
    env.pop("HF_TOKEN", None)
    command = [sys.executable, "-m", "distill_data.cli", "ultrachat", "--filter", "--no-progress", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_hub_dataset_id_gives_the_same_data_as_the_local_file(hub, tmp_path: Path) -> None:
    url, log, local_file = hub
    result = cli(url, tmp_path, "--input", "tester/ultrachat-mini", "--output", str(tmp_path / "from_hub"))
    assert result.returncode == 0, result.stderr
    assert any("/datasets/tester/ultrachat-mini/resolve/" in line for line in log)
    local = cli(url, tmp_path, "--input", str(local_file), "--output", str(tmp_path / "from_file"))
    assert local.returncode == 0, local.stderr
    for split in ("train_sft", "test_sft", "train_gen", "test_gen"):
        name = f"data/{split}-00000-of-00001.parquet"
        assert (tmp_path / "from_hub" / name).read_bytes() == (tmp_path / "from_file" / name).read_bytes()
    record = json.loads((tmp_path / "from_hub" / "provenance.json").read_text())
    assert record["inputs"] == [{"hub": "tester/ultrachat-mini", "split": "train", "revision": REVISION}]


def test_unknown_hub_dataset_is_a_clear_error(hub, tmp_path: Path) -> None:
    url, _, _ = hub
    result = cli(url, tmp_path, "--input", "tester/missing", "--output", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "hub:tester/missing: could not load this Hub dataset" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


_READ_BOTH_WAYS = """
import dataclasses, json, sys
import pyarrow as pa
from distill_data.sources.inputs import HubDataset
from distill_data.sources.ultrafeedback import UltraFeedbackSource

def rows(fast):
    source = UltraFeedbackSource([sys.argv[1]], on_error="skip", batch_size=7)
    source.columnar = dataclasses.replace(source.columnar, table_rows=5) if fast else None
    return [row for batch in source.batches() for row in batch.to_pylist()], source.rejected

reader = dataclasses.replace(UltraFeedbackSource([sys.argv[1]]).columnar, table_rows=5)
items = list(reader.records_or_tables(HubDataset(sys.argv[1])))
print(json.dumps({"tables": sum(isinstance(i, pa.Table) for i in items), "fast": rows(True), "slow": rows(False)}))
"""


def test_hub_ultrafeedback_rows_take_the_fast_path_and_match_the_row_by_row_reader(tmp_path: Path) -> None:
    from distill_data.synthetic import ultrafeedback_rows

    root = tmp_path / "hub"
    repo = root / "tester" / "uf-mini" / "data"
    repo.mkdir(parents=True)
    rows = list(ultrafeedback_rows(25, seed=3))
    rows[4]["completions"][1]["annotations"]["honesty"]["Rating"] = "9"  # set aside on both paths
    (repo / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    server, url, _ = serve(root)
    try:
        env = dict(os.environ, HF_ENDPOINT=url, HF_HUB_DISABLE_XET="1", HF_HOME=str(tmp_path / "hf_home"))
        env.pop("HF_TOKEN", None)
        done = subprocess.run(
            [sys.executable, "-c", _READ_BOTH_WAYS, "tester/uf-mini"], env=env, capture_output=True, text=True
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["fast"] == result["slow"]
    fast_rows, rejected = result["fast"]
    assert len(fast_rows) == 24 and rejected == 1
    assert result["tables"] == 4  # of 5 tables of 5 rows: the one with the bad row went row by row
