"""The Ray engine: the same bytes as one local process, through the API and the CLI, on a local 2-CPU Ray."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from click.testing import CliRunner
from conftest import write_jsonl
from test_scale import files

from distill_data import build
from distill_data.cli import cli
from distill_data.engines import make_engine
from distill_data.errors import ConfigError
from distill_data.recipes import binarize_recipe, ultrachat_recipe
from distill_data.splits import SplitConfig
from distill_data.synthetic import ultrachat_rows, ultrafeedback_rows


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray for the module: starting it takes seconds, and every build joins the running one."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.mark.parametrize("kind", ["ultrachat", "binarize"])
def test_ray_output_is_byte_identical_to_one_process(kind: str, tmp_path: Path, local_ray: None) -> None:
    if kind == "ultrachat":
        source = write_jsonl(tmp_path / "in.jsonl", list(ultrachat_rows(500, seed=51)))
        recipe = ultrachat_recipe([str(source)], split=SplitConfig(test_size=0.1))
    else:
        source = write_jsonl(tmp_path / "in.jsonl", list(ultrafeedback_rows(500, seed=52)))
        recipe = binarize_recipe([str(source)], test_size=50)
    options = {"batch_size": 40, "progress": False, "shard_bytes": 100_000, "row_group_rows": 30}
    local = build(recipe, tmp_path / "local", num_proc=1, **options)
    on_ray = build(recipe, tmp_path / "ray", engine="ray", num_proc=2, **options)
    assert files(tmp_path / "local") == files(tmp_path / "ray")
    assert on_ray.steps == local.steps  # the same counts, drops and examples, merged in input order
    assert sum(local.splits.values()) > 0


def test_cli_engine_ray(tmp_path: Path, local_ray: None) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", list(ultrachat_rows(300, seed=53)))
    runner = CliRunner()
    common = ["ultrachat", "--filter", "-i", str(source), "--batch-size", "25", "--no-progress", "--test-size", "30"]
    first = runner.invoke(cli, [*common, "-o", str(tmp_path / "ray"), "--engine", "ray"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(cli, [*common, "-o", str(tmp_path / "one"), "--num-proc", "1"])
    assert second.exit_code == 0, second.output
    assert files(tmp_path / "ray") == files(tmp_path / "one")


def test_engine_uses_every_cpu_of_the_cluster_by_default(local_ray: None) -> None:
    assert make_engine("ray", None).workers == 2
    assert make_engine("ray", 1).workers == 1


def test_ray_address_needs_the_ray_engine(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", list(ultrachat_rows(5, seed=1)))
    result = CliRunner().invoke(
        cli, ["ultrachat", "-i", str(source), "-o", str(tmp_path / "out"), "--ray-address", "auto"]
    )
    assert result.exit_code == 2
    assert "--ray-address needs --engine ray" in result.output
    assert not (tmp_path / "out").exists()


def test_missing_ray_is_a_clear_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'distill-data\[ray\]'"):
        make_engine("ray", 2)


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown engine 'spark'"):
        make_engine("spark", 2)
