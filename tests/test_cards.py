"""Dataset cards: YAML computed from the files, a body that explains the build, plots, and `distill-data card`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import write_jsonl
from huggingface_hub import DatasetCard

from distill_data import build, plots
from distill_data.cli import cli
from distill_data.numbers import significant
from distill_data.recipes import binarize_recipe, ultrachat_recipe
from distill_data.splits import SplitConfig
from distill_data.synthetic import ultrachat_rows, ultrafeedback_rows


@pytest.fixture(scope="module")
def sft(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("sft")
    source = write_jsonl(work / "uc.jsonl", list(ultrachat_rows(400, seed=21)))
    recipe = ultrachat_recipe([str(source)], split=SplitConfig(test_size=0.1))
    return build(recipe, work / "out", progress=False).output


@pytest.fixture(scope="module")
def prefs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("prefs")
    source = write_jsonl(work / "uf.jsonl", list(ultrafeedback_rows(300, seed=22)))
    return build(binarize_recipe([str(source)], preset="h4-2023", test_size=30), work / "out", progress=False).output


def split_rows(folder: Path) -> dict[str, int]:
    return {p.name.split("-")[0]: pq.ParquetFile(p).metadata.num_rows for p in (folder / "data").glob("*.parquet")}


@pytest.mark.parametrize("which", ["sft", "prefs"])
def test_yaml_is_computed_from_the_files(which: str, request: pytest.FixtureRequest) -> None:
    folder: Path = request.getfixturevalue(which)
    card = DatasetCard.load(folder / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "mit" and data["language"] == ["en"]
    assert data["task_categories"] == ["text-generation"]
    assert {"synthetic", "distill-data", "sft" if which == "sft" else "dpo"} <= set(data["tags"])
    assert data["size_categories"] == ["n<1K"] and data["pretty_name"]
    rows = split_rows(folder)
    info = data["dataset_info"]
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == rows
    provenance = json.loads((folder / "provenance.json").read_text())
    assert [s["name"] for s in info["splits"]] == [name for name in provenance["splits"] if rows.get(name)]
    for split in info["splits"]:
        table = pq.read_table(next((folder / "data").glob(f"{split['name']}-*.parquet")))
        assert split["num_bytes"] == table.nbytes
    assert info["download_size"] == sum(p.stat().st_size for p in (folder / "data").glob("*.parquet"))
    assert info["dataset_size"] == sum(s["num_bytes"] for s in info["splits"])
    assert [f["name"] for f in info["features"]] == provenance["columns"]
    (config,) = data["configs"]
    assert {f["split"]: f["path"] for f in config["data_files"]} == {s: f"data/{s}-*" for s in rows}


def test_body_explains_the_build(sft: Path) -> None:
    text = (sft / "README.md").read_text()
    provenance = json.loads((sft / "provenance.json").read_text())
    assert provenance["inputs"][0]["sha256"] in text
    for number, step in enumerate(provenance["steps"], start=1):
        assert f"{number}. **`{step['name']}`**" in text
        assert f"{step['rows_in']:,} rows in, {step['rows_out']:,} out" in text
        for reason, count in step["dropped"].items():
            example = step["examples"][reason][0]
            assert f'dropped `{reason}`: {count:,}, e.g. "' in text
            assert " ".join(example["first_turn"].split())[:40] in text
    for split, rows in provenance["splits"].items():
        assert f"| {split} | {rows:,} |" in text
    for section in ("## Schema", "## Use", "load_dataset(", "SFTTrainer", "## Known limitations", "## Citation"):
        assert section in text
    for key in ("tunstall2023zephyr", "ding2023enhancing", "cui2023ultrafeedback", "rafailov2023direct"):
        assert key in text


def test_preference_card_documents_the_preset_defects(prefs: Path) -> None:
    text = (prefs / "README.md").read_text()
    assert "Method `h4-2023`" in text and "overall_score" in text and "positional" in text
    assert "DPOTrainer" in text and "TruthfulQA" in text


def test_plots_and_their_numbers(sft: Path, prefs: Path) -> None:
    for folder, names in (
        (sft, ["steps.png", "turns_per_dialogue.png", "response_length.png"]),
        (prefs, ["steps.png", "scores.png", "margin.png", "models.png"]),
    ):
        text = (folder / "README.md").read_text()
        for name in names:
            assert (folder / "assets" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert f"](assets/{name})" in text
    sft_data = json.loads((sft / "assets" / "plot_data.json").read_text())
    rows = split_rows(sft)
    assert sum(sft_data["turns_per_dialogue"]["counts"]) == rows["train_sft"] + rows["test_sft"]
    steps = json.loads((sft / "provenance.json").read_text())["steps"]
    assert sft_data["steps"]["dropped"] == [s["rows_in"] - s["rows_out"] for s in steps]
    prefs_data = json.loads((prefs / "assets" / "plot_data.json").read_text())
    tallies = json.loads((prefs / "provenance.json").read_text())["steps"][0]["tallies"]
    models = prefs_data["models"]
    assert dict(zip(models["names"], models["chosen"], strict=True)) == tallies["chosen_model"]
    assert sum(prefs_data["margin"]["counts"]) == rows_of(prefs, "train_prefs") + rows_of(prefs, "test_prefs")


def floats_in(value: object) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [x for item in value for x in floats_in(item)] if isinstance(value, list) else []


def test_plot_data_floats_have_six_significant_digits(sft: Path, prefs: Path) -> None:
    for folder in (sft, prefs):
        written = floats_in(json.loads((folder / "assets" / "plot_data.json").read_text()))
        assert written and [x for x in written if significant(x) != x] == []


def test_written_plot_data_does_not_depend_on_the_last_bits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Floats summed in another order, and a CPU whose ``np.logspace`` is one bit off, write the same bytes."""
    values = [0.1, 0.2, 0.3]
    forward, backward = sum(values), sum(reversed(values))
    assert forward != backward
    table = pa.table(
        {
            "messages": [
                [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a" * n}] for n in (1, 3, 40, 900)
            ]
        }
    )
    provenance = {"steps": [{"name": "fix_text", "rows_in": 4, "rows_out": 4}]}
    logspace = np.logspace

    def written(folder: Path, total: float, one_bit_up: bool) -> bytes:
        with monkeypatch.context() as patch:
            if one_bit_up:
                patch.setattr(np, "logspace", lambda *args, **kwargs: np.nextafter(logspace(*args, **kwargs), np.inf))
            data = {**plots.sft_data([table]), "mean": total / len(values)}
        plots.write_plots(folder, provenance, data)
        return (folder / "assets" / "plot_data.json").read_bytes()

    assert written(tmp_path / "a", forward, False) == written(tmp_path / "b", backward, True)


def rows_of(folder: Path, split: str) -> int:
    return split_rows(folder)[split]


def test_card_command_rebuilds_the_same_card_without_rerunning(sft: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(sft, copy)
    (copy / "README.md").unlink()
    shutil.rmtree(copy / "assets")
    result = CliRunner().invoke(cli, ["card", str(copy)])
    assert result.exit_code == 0, result.output
    assert (copy / "README.md").read_bytes() == (sft / "README.md").read_bytes()
    for path in (sft / "assets").iterdir():
        assert (copy / "assets" / path.name).read_bytes() == path.read_bytes()


def test_card_command_refuses_a_folder_without_provenance(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["card", str(tmp_path)])
    assert result.exit_code == 1 and "no provenance.json" in result.output
