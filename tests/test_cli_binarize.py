"""End to end through the CLI: `distill-data binarize` on generated and real UltraFeedback rows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import REPO, write_jsonl

from distill_data.cli import cli
from distill_data.recipes import binarize_recipe, load_recipe
from distill_data.synthetic import ultrafeedback_rows

SPLITS = ("train_prefs", "test_prefs", "train_sft", "test_sft", "train_gen", "test_gen")
COLUMNS = [
    "prompt",
    "prompt_id",
    "chosen",
    "rejected",
    "messages",
    "score_chosen",
    "score_rejected",
    "chosen_model",
    "rejected_model",
]


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def binarize(inputs: list[Path], out: Path, *extra: str) -> Path:
    args = [a for i in inputs for a in ("--input", i)]
    code, output = invoke("binarize", *args, "--output", out, "--no-progress", *extra)
    assert code == 0, output
    (out.parent / f"{out.name}.summary.txt").write_text(output)
    return out


def read_split(out: Path, split: str) -> list[dict]:
    return pq.read_table(out / "data" / f"{split}-00000-of-00001.parquet").to_pylist()


def data_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "data").iterdir())}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return list(ultrafeedback_rows(2000, seed=3))


@pytest.fixture(scope="module")
def source(rows: list[dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("uf") / "uf.jsonl", rows)


@pytest.fixture(scope="module")
def built(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return binarize([source], tmp_path_factory.mktemp("built") / "ufb", "--test-size", "200")


def test_layout_columns_and_loading(built: Path) -> None:
    from datasets import load_dataset

    loaded = load_dataset(str(built))
    assert set(loaded) == set(SPLITS)
    for split in SPLITS:
        assert loaded[split].column_names == COLUMNS
    assert loaded["train_prefs"].features["score_chosen"].dtype == "float64"


def test_pairs_follow_the_zephyr_method(built: Path, rows: list[dict]) -> None:
    by_prompt = {row["instruction"]: row for row in rows}
    pairs = read_split(built, "train_prefs") + read_split(built, "test_prefs")
    assert pairs
    for pair in pairs:
        raw = by_prompt[pair["prompt"]]
        assert pair["prompt_id"] == hashlib.sha256(pair["prompt"].encode("utf-8")).hexdigest()
        assert pair["messages"] == pair["chosen"]
        assert [m["role"] for m in pair["chosen"]] == ["user", "assistant"] == [m["role"] for m in pair["rejected"]]
        assert pair["chosen"][0]["content"] == pair["rejected"][0]["content"] == pair["prompt"]
        scored = []
        for c in raw["completions"]:
            ratings = [int(a["Rating"]) for a in c["annotations"].values() if a["Rating"] != "N/A"]
            if ratings and c["response"].strip():
                scored.append((sum(ratings) / len(ratings), c["model"], c["response"]))
        best = max(s for s, _, _ in scored)
        first_best = next(item for item in scored if item[0] == best)
        assert (pair["score_chosen"], pair["chosen_model"], pair["chosen"][1]["content"]) == first_best
        assert (pair["score_rejected"], pair["rejected_model"], pair["rejected"][1]["content"]) in [
            item for item in scored if item is not first_best
        ]


def test_splits_sizes_halves_and_gen(built: Path) -> None:
    train, test = read_split(built, "train_prefs"), read_split(built, "test_prefs")
    assert len(test) == 200
    assert not {r["prompt_id"] for r in train} & {r["prompt_id"] for r in test}
    assert read_split(built, "train_sft") == train
    test_sft = read_split(built, "test_sft")
    assert len(test_sft) == 100 and {r["prompt_id"] for r in test_sft} <= {r["prompt_id"] for r in test}
    for side, sft in (("train", train), ("test", test_sft)):
        gen = read_split(built, f"{side}_gen")
        assert [r["prompt_id"] for r in gen] == [r["prompt_id"] for r in sft]
        assert all(g["messages"] == s["chosen"][:1] for g, s in zip(gen, sft, strict=True))
        assert all(g["chosen"] == s["chosen"] for g, s in zip(gen, sft, strict=True))


def test_provenance_and_summary(built: Path, source: Path, rows: list[dict]) -> None:
    record = json.loads((built / "provenance.json").read_text())
    (step,) = record["steps"]
    assert step["name"] == "binarize" and step["params"] == {"method": "zephyr", "ties": "keep", "seed": 42}
    assert step["rows_in"] == len(rows) and step["rows_in"] - step["rows_out"] == sum(step["dropped"].values())
    assert step["dropped"]["fewer_than_2_valid_completions"] > 0
    assert sum(step["tallies"]["chosen_model"].values()) == step["rows_out"]
    assert record["inputs"][0]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    summary = (built.parent / f"{built.name}.summary.txt").read_text()
    assert "chosen" in summary and "rejected" in summary and "gpt-4" in summary
    card = (built / "README.md").read_text()
    assert "- dpo" in card and "Method `zephyr`:" in card


def test_same_bytes_whatever_the_batch_size_or_file_split(built: Path, rows: list[dict], tmp_path: Path) -> None:
    half = len(rows) // 2
    parts = [write_jsonl(tmp_path / "a.jsonl", rows[:half]), write_jsonl(tmp_path / "b.jsonl", rows[half:])]
    again = binarize(parts, tmp_path / "again", "--test-size", "200", "--batch-size", "33")
    assert data_bytes(again) == data_bytes(built)


def test_order_invariance_and_seed_sensitivity(rows: list[dict], tmp_path: Path) -> None:
    subset = rows[:300]
    forward = binarize([write_jsonl(tmp_path / "f.jsonl", subset)], tmp_path / "f", "--test-size", "30")
    backward = binarize([write_jsonl(tmp_path / "b.jsonl", subset[::-1])], tmp_path / "b", "--test-size", "30")
    other = binarize([tmp_path / "f.jsonl"], tmp_path / "s", "--test-size", "30", "--seed", "7")

    def picks(out: Path) -> dict[str, tuple[str, str]]:
        pairs = read_split(out, "train_prefs") + read_split(out, "test_prefs")
        return {p["prompt_id"]: (p["chosen"][1]["content"], p["rejected"][1]["content"]) for p in pairs}

    assert picks(forward) == picks(backward)
    assert {k: v[0] for k, v in picks(other).items()} == {k: v[0] for k, v in picks(forward).items()}
    changed = sum(picks(other)[k][1] != v[1] for k, v in picks(forward).items())
    assert changed > 50


@pytest.mark.parametrize("preset", ["h4-2023", "argilla-clean"])
def test_presets(preset: str, rows: list[dict], tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", rows[:400])
    out = binarize([src], tmp_path / preset, "--preset", preset, "--test-size", "40")
    pairs = read_split(out, "train_prefs") + read_split(out, "test_prefs")
    record = json.loads((out / "provenance.json").read_text())
    if preset == "argilla-clean":
        truthful = {r["instruction"] for r in rows[:400] if r["source"] == "truthful_qa"}
        assert truthful and not truthful & {p["prompt"] for p in pairs}
        assert all(p["score_rejected"] < p["score_chosen"] for p in pairs)
        assert record["steps"][0]["dropped"]["excluded_source"] == len(truthful)
    else:
        by_prompt = {r["instruction"]: r for r in rows[:400]}
        for p in pairs:
            scores = [c["overall_score"] for c in by_prompt[p["prompt"]]["completions"]]
            assert p["score_chosen"] == max(scores)
    assert f"Method `{preset}`:" in (out / "README.md").read_text()


def test_ties_drop(rows: list[dict], tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", rows[:400])
    keep = binarize([src], tmp_path / "keep", "--test-size", "10")
    drop = binarize([src], tmp_path / "drop", "--test-size", "10", "--ties", "drop")
    kept = read_split(keep, "train_prefs") + read_split(keep, "test_prefs")
    dropped = read_split(drop, "train_prefs") + read_split(drop, "test_prefs")
    ties = [p for p in kept if p["score_chosen"] == p["score_rejected"]]
    assert ties and len(dropped) == len(kept) - len(ties)
    assert all(p["score_chosen"] != p["score_rejected"] for p in dropped)
    record = json.loads((drop / "provenance.json").read_text())
    assert record["steps"][0]["dropped"]["tie"] == len(ties)


def test_recipe_file_equals_cli_defaults() -> None:
    from_file = load_recipe(REPO / "recipes" / "ultrafeedback_binarized.yaml").to_dict()
    assert from_file == binarize_recipe(["openbmb/UltraFeedback"]).to_dict()


def test_run_recipe_gives_the_same_bytes(built: Path, source: Path, tmp_path: Path) -> None:
    recipe = load_recipe(REPO / "recipes" / "ultrafeedback_binarized.yaml")
    recipe.split.test_size = 200
    path = tmp_path / "r.yaml"
    path.write_text(recipe.to_yaml())
    code, output = invoke("run", path, "--input", source, "--output", tmp_path / "r", "--no-progress")
    assert code == 0, output
    assert data_bytes(tmp_path / "r") == data_bytes(built)


def bad_rows() -> list[tuple[dict, str, str]]:
    good = next(iter(ultrafeedback_rows(1, seed=0)))

    def variant(change) -> dict:
        row = json.loads(json.dumps(good))
        change(row)
        return row

    return [
        (
            variant(lambda r: r["completions"][1]["annotations"]["honesty"].update(Rating="6")),
            "completions[1].annotations.honesty.Rating",
            'rating must be "1".."5" or "N/A"',
        ),
        (
            variant(lambda r: r["completions"][0]["annotations"]["truthfulness"].update(Rating="")),
            "completions[0].annotations.truthfulness.Rating",
            "got ''",
        ),
        (
            variant(lambda r: r["completions"][2]["annotations"]["helpfulness"].update(Rating=None)),
            "completions[2].annotations.helpfulness.Rating",
            "got None",
        ),
        (variant(lambda r: r["completions"][0].pop("annotations")), "completions[0].annotations", "missing"),
        (variant(lambda r: r.update(completions="none")), "completions", "expected a list, got str"),
    ]


@pytest.mark.parametrize(("row", "field", "reason"), bad_rows())
def test_bad_rows_name_file_line_and_field(tmp_path: Path, row: dict, field: str, reason: str) -> None:
    good = list(ultrafeedback_rows(3, seed=1))
    src = write_jsonl(tmp_path / "in.jsonl", [*good, row])
    code, output = invoke("binarize", "-i", src, "-o", tmp_path / "out", "--test-size", "1", "--no-progress")
    flat = " ".join(output.split())
    assert code == 1, output
    assert f"{src}, line 4: field '{field}'" in flat and reason in flat
    assert not (tmp_path / "out").exists()
    code, output = invoke(
        "binarize", "-i", src, "-o", tmp_path / "out", "--test-size", "1", "--no-progress", "--on-error", "skip"
    )
    assert code == 0, output
    (reject,) = [json.loads(line) for line in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert (reject["location"], reject["field"]) == ("line 4", field)


def test_h4_2023_needs_overall_score(tmp_path: Path) -> None:
    real = REPO / "tests" / "data" / "ultrafeedback_raw_partial.jsonl"
    lines = real.read_text(encoding="utf-8").splitlines()
    src = tmp_path / "in.jsonl"
    src.write_text(lines[1] + "\n", encoding="utf-8")
    code, output = invoke("binarize", "-i", src, "-o", tmp_path / "out", "--test-size", "0", "--preset", "h4-2023")
    assert code == 1 and "field 'completions[0].overall_score': missing" in " ".join(output.split())
    code, output = invoke("binarize", "-i", src, "-o", tmp_path / "out", "--test-size", "0", "--no-progress")
    assert code == 0, output
    (pair,) = read_split(tmp_path / "out", "train_prefs")
    assert (pair["chosen_model"], pair["score_chosen"]) == ("starchat", 5.0)


def test_default_test_size_on_a_small_input_is_a_usage_error(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", list(ultrafeedback_rows(50, seed=2)))
    code, output = invoke("binarize", "-i", src, "-o", tmp_path / "out", "--no-progress")
    assert code == 2 and "test_size 2000 leaves no training rows" in output
    code, output = invoke("binarize", "-i", src, "-o", tmp_path / "out", "--preset", "best")
    assert code == 2
