"""End to end through the CLI: `distill-data ultrachat` and `distill-data run` on a generated corpus."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import REPO, write_jsonl

from distill_data.cli import cli
from distill_data.processors import DEFAULT_PHRASES, normalise_prompt
from distill_data.recipes import load_recipe, ultrachat_recipe

SPLITS = ("train_sft", "test_sft", "train_gen", "test_gen")


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def build(corpus: Path, out: Path, *extra: str | Path) -> Path:
    code, output = invoke("ultrachat", "--filter", "--input", corpus, "--output", out, "--no-progress", *extra)
    assert code == 0, output
    (out.parent / f"{out.name}.summary.txt").write_text(output)
    return out


def read_split(out: Path, split: str) -> list[dict]:
    return pq.read_table(out / "data" / f"{split}-00000-of-00001.parquet").to_pylist()


def file_bytes(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(corpus, tmp_path_factory.mktemp("built") / "uc")


def test_layout_and_loading(built: Path) -> None:
    from datasets import load_dataset

    assert sorted(p.name for p in (built / "data").iterdir()) == sorted(f"{s}-00000-of-00001.parquet" for s in SPLITS)
    assert (built / "README.md").is_file() and (built / "provenance.json").is_file()
    assert not (built / "rejects.jsonl").exists()
    loaded = load_dataset(str(built))
    assert set(loaded) == set(SPLITS)
    for split in SPLITS:
        assert loaded[split].column_names == ["prompt", "prompt_id", "messages"]
        assert len(loaded[split]) == len(read_split(built, split))
    assert not any(p.name.startswith(".") for p in built.parent.iterdir()), "staging folder left behind"


def test_rows_are_clean_and_identified(built: Path) -> None:
    phrases = [p.lower() for p in DEFAULT_PHRASES]
    for split in ("train_sft", "test_sft"):
        for row in read_split(built, split):
            messages = row["messages"]
            assert row["prompt"] == messages[0]["content"]
            assert row["prompt_id"] == hashlib.sha256(row["prompt"].encode("utf-8")).hexdigest()
            assert [m["role"] for m in messages] == ["user", "assistant"] * (len(messages) // 2) + (
                ["user"] if len(messages) % 2 else []
            )
            assert all(m["content"].strip() for m in messages)
            for m in messages:
                if m["role"] == "assistant":
                    text = m["content"].lower().replace("’", "'")
                    assert not any(p in text for p in phrases), m["content"][:80]
            assert "â€" not in "".join(m["content"] for m in messages)


def test_splits_are_disjoint_sized_and_gen_matches_sft(built: Path) -> None:
    train, test = read_split(built, "train_sft"), read_split(built, "test_sft")
    train_ids, test_ids = {r["prompt_id"] for r in train}, {r["prompt_id"] for r in test}
    assert not train_ids & test_ids
    assert len(test) == round(0.1 * (len(train) + len(test)))
    for side, sft in (("train", train), ("test", test)):
        gen = read_split(built, f"{side}_gen")
        assert [r["prompt_id"] for r in gen] == [r["prompt_id"] for r in sft]
        for g, s in zip(gen, sft, strict=True):
            assert g["messages"][-1]["role"] == "user"
            last_user = max(i for i, m in enumerate(s["messages"]) if m["role"] == "user")
            assert g["messages"] == s["messages"][: last_user + 1]


def test_provenance_counts_add_up(built: Path, corpus: Path, corpus_rows: list[dict]) -> None:
    record = json.loads((built / "provenance.json").read_text())
    steps = record["steps"]
    assert [s["name"] for s in steps] == [
        "fix_text",
        "truecase",
        "structure_filter",
        "assistant_disclaimer_filter",
        "language_filter",
        "prompt_id",
        "dedup",
    ]
    assert steps[0]["rows_in"] == record["rows_read"] == len(corpus_rows)
    for before, after in itertools.pairwise(steps):
        assert after["rows_in"] == before["rows_out"]
    for step in steps:
        assert step["rows_in"] - step["rows_out"] == sum(step["dropped"].values())
        for reason, examples in step["examples"].items():
            assert 1 <= len(examples) <= min(5, step["dropped"][reason])
    by_name = {s["name"]: s for s in steps}
    for name, reason in (
        ("structure_filter", "empty_turn"),
        ("assistant_disclaimer_filter", "assistant_disclaimer"),
        ("language_filter", "wrong_language"),
        ("dedup", "duplicate_prompt"),
    ):
        assert by_name[name]["dropped"].get(reason, 0) > 0, (name, reason)
    assert by_name["truecase"]["counters"]["turns_changed"] > 0
    assert by_name["fix_text"]["counters"]["turns_changed"] > 0
    kept = sum(record["splits"][s] for s in ("train_sft", "test_sft"))
    assert kept == steps[-1]["rows_out"]
    assert record["inputs"] == [
        {"path": str(corpus), "bytes": corpus.stat().st_size, "sha256": hashlib.sha256(corpus.read_bytes()).hexdigest()}
    ]
    assert record["split"] == {"test_size": 0.1, "max_samples": None, "seed": 42}
    assert record["packages"]["pyarrow"] == pa.__version__


def test_same_input_same_bytes_whatever_the_batch_size(built: Path, corpus: Path, tmp_path: Path) -> None:
    again = build(corpus, tmp_path / "again", "--batch-size", "7")
    assert file_bytes(again) == file_bytes(built)


def test_seed_changes_the_split(corpus_rows: list[dict], tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", corpus_rows[:300])
    tests = [
        {r["prompt_id"] for r in read_split(build(source, tmp_path / f"seed{seed}", "--seed", seed), "test_sft")}
        for seed in ("1", "2")
    ]
    assert tests[0] != tests[1]
    assert len(tests[0]) == len(tests[1]) > 0


def test_max_samples_and_test_count_do_not_depend_on_row_order(corpus_rows: list[dict], tmp_path: Path) -> None:
    # Dedup keeps the first occurrence in input order, so this needs prompts without duplicates.
    unique = list({normalise_prompt(r["data"][0]): r for r in corpus_rows[:450]}.values())[:400]
    shuffled = unique.copy()
    random.Random(3).shuffle(shuffled)
    outs = []
    for name, rows in (("ordered", unique), ("shuffled", shuffled)):
        source = write_jsonl(tmp_path / f"{name}.jsonl", rows)
        outs.append(build(source, tmp_path / name, "--max-samples", "150", "--test-size", "20"))
    for split in ("train_sft", "test_sft"):
        first, second = (sorted(r["prompt_id"] for r in read_split(o, split)) for o in outs)
        assert first == second
    assert len(read_split(outs[0], "test_sft")) == 20
    assert len(read_split(outs[0], "train_sft")) == 130


def test_without_filter_only_cleans(corpus: Path, tmp_path: Path, corpus_rows: list[dict]) -> None:
    code, output = invoke("ultrachat", "-i", corpus, "-o", tmp_path / "raw", "--no-progress", "--no-truecase")
    assert code == 0, output
    record = json.loads((tmp_path / "raw" / "provenance.json").read_text())
    assert [s["name"] for s in record["steps"]] == ["fix_text", "prompt_id"]
    assert record["splits"]["train_sft"] + record["splits"]["test_sft"] == len(corpus_rows)


def test_summary_table_lists_steps_and_reasons(built: Path) -> None:
    output = (built.parent / f"{built.name}.summary.txt").read_text()
    for text in ("structure_filter", "empty_turn", "duplicate_prompt", "wrong_language", "train_sft"):
        assert text in output


def test_recipe_file_equals_cli_defaults_and_gives_the_same_bytes(built: Path, corpus: Path, tmp_path: Path) -> None:
    recipe_file = REPO / "recipes" / "ultrachat_200k.yaml"
    from_file = load_recipe(recipe_file).to_dict()
    from_flags = ultrachat_recipe(["stingning/ultrachat"]).to_dict()
    assert from_file == from_flags
    code, output = invoke("run", recipe_file, "--input", corpus, "--output", tmp_path / "r", "--no-progress")
    assert code == 0, output
    built_files, run_files = file_bytes(built), file_bytes(tmp_path / "r")
    assert {k: v for k, v in run_files.items() if k.startswith("data/")} == {
        k: v for k, v in built_files.items() if k.startswith("data/")
    }


def test_arrow_format_also_saves_a_datasetdict(tmp_path: Path, corpus_rows: list[dict]) -> None:
    from datasets import load_from_disk

    source = write_jsonl(tmp_path / "in.jsonl", corpus_rows[:200])
    out = build(source, tmp_path / "o", "--format", "arrow")
    saved = load_from_disk(str(out / "arrow"))
    assert set(saved) == set(SPLITS)
    assert saved["train_sft"]["prompt_id"] == [r["prompt_id"] for r in read_split(out, "train_sft")]


def test_input_formats_folders_and_globs_agree(tmp_path: Path, corpus_rows: list[dict]) -> None:
    rows = corpus_rows[:120]
    jsonl = write_jsonl(tmp_path / "in" / "a.jsonl", rows[:60])
    write_jsonl(tmp_path / "in" / "b.jsonl", rows[60:])
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "all.json").write_text(json.dumps(rows), encoding="utf-8")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "all.parquet")
    variants = {
        "folder": [tmp_path / "in"],
        "glob": [str(tmp_path / "in" / "*.jsonl")],
        "two_files": [jsonl, tmp_path / "in" / "b.jsonl"],
        "json": [tmp_path / "json" / "all.json"],
        "parquet": [tmp_path / "all.parquet"],
    }
    outputs = {}
    for name, inputs in variants.items():
        args = [a for i in inputs for a in ("--input", i)]
        code, output = invoke("ultrachat", "--filter", *args, "-o", tmp_path / f"out_{name}", "--no-progress")
        assert code == 0, (name, output)
        out = tmp_path / f"out_{name}"
        outputs[name] = {k: v for k, v in file_bytes(out).items() if k.startswith("data/")}
    first = outputs.pop("folder")
    for name, files in outputs.items():
        assert files == first, name
