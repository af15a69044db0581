"""DatasetFolder: the output layout spelled once, and what a build writes is exactly that layout."""

from __future__ import annotations

from pathlib import Path

from conftest import BUNDLED_SAMPLE

from distill_data.builder import build
from distill_data.dataset_folder import ENTRIES, DatasetFolder, shard_name, split_pattern
from distill_data.recipes import ultrachat_recipe


def test_paths_and_names() -> None:
    folder = DatasetFolder(Path("out"))
    assert folder.shard("train_sft", 1, 12) == Path("out/data/train_sft-00001-of-00012.parquet")
    assert shard_name("test_gen", 0, 1) == "test_gen-00000-of-00001.parquet"
    assert split_pattern("train_prefs") == "data/train_prefs-*"
    named = (folder.data, folder.assets, folder.arrow, folder.card, folder.provenance, folder.rejects)
    assert {path.name for path in named} == ENTRIES


def test_splits_present_and_the_folder_of_a_data_file(tmp_path: Path) -> None:
    folder = DatasetFolder(tmp_path)
    assert folder.split_files() == {} and not folder.has_split("train_sft")
    folder.data.mkdir()
    for split, index, total in (("train_sft", 1, 2), ("train_sft", 0, 2), ("test_sft", 0, 1)):
        folder.shard(split, index, total).touch()
    assert folder.split_files() == {
        "test_sft": [folder.shard("test_sft", 0, 1)],
        "train_sft": [folder.shard("train_sft", 0, 2), folder.shard("train_sft", 1, 2)],
    }
    assert folder.split_names() == ["test_sft", "train_sft"]
    assert folder.has_split("test_sft") and not folder.has_split("test_gen")
    assert DatasetFolder.of_data_file(folder.shard("test_sft", 0, 1)) is None  # no provenance yet
    folder.provenance.write_text("{}")
    assert DatasetFolder.of_data_file(folder.shard("test_sft", 0, 1)) == folder
    assert DatasetFolder.of_data_file(tmp_path / "elsewhere.parquet") is None


def test_a_build_writes_the_layout_and_nothing_else(tmp_path: Path) -> None:
    bad = tmp_path / "in.jsonl"
    bad.write_text(BUNDLED_SAMPLE.read_text(encoding="utf-8") + '{"id": 1, "data": "not a list"}\n', encoding="utf-8")
    recipe = ultrachat_recipe([str(bad)])
    recipe.format = "arrow"
    build(recipe, tmp_path / "out", on_error="skip", progress=False, num_proc=1)
    folder = DatasetFolder(tmp_path / "out")
    assert {path.name for path in folder.path.iterdir()} == ENTRIES  # rejects and arrow/ included
    assert folder.split_names() == sorted(["train_sft", "test_sft", "train_gen", "test_gen"])
    assert folder.card.is_file() and folder.provenance.is_file() and any(folder.assets.iterdir())
