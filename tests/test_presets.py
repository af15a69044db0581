"""Presets are data: one ``Preset`` in the registry is all a new binarization method needs.

The behaviour of the three published presets is pinned in test_binarize.py and test_cli_binarize.py; here: the
CLI, the recipe and the card read the registry, no other module tells presets apart by name, and a preset
defined in this file runs end to end without a change anywhere else.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import REPO, write_jsonl

from distill_data.builder import build
from distill_data.cli import cli
from distill_data.errors import ConfigError
from distill_data.kinds.ultrafeedback import binarize_steps
from distill_data.presets import PRESETS, TRUTHFULQA_NOTE, MeanRating, Preset, preset_named
from distill_data.processors import Binarize, SourceFilter
from distill_data.processors.binarize import ScoredBatch
from distill_data.recipes import binarize_recipe
from distill_data.synthetic import ultrafeedback_rows


def test_the_cli_offers_the_registry() -> None:
    result = CliRunner().invoke(cli, ["binarize", "--help"], terminal_width=1000)
    text = " ".join(result.output.split())
    assert f"--preset [{'|'.join(PRESETS)}]" in text
    for preset in PRESETS.values():
        assert f"{preset.name}: {preset.help}" in text


def test_the_recipe_and_the_step_check_against_the_registry() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'best'; expected one of zephyr, h4-2023, argilla-clean"):
        binarize_steps("best")
    with pytest.raises(ConfigError, match="parameter 'method' must be one of 'zephyr', 'h4-2023', 'argilla-clean'"):
        Binarize(method="best")
    for preset in PRESETS.values():
        steps = binarize_steps(preset.name)
        filters = [step for step in steps if isinstance(step, SourceFilter)]
        assert [f.exclude for f in filters] == ([preset.removes_sources] if preset.removes_sources else [])
        assert preset_named(preset.name) is preset


def _comparisons_of_preset_names(path: Path) -> list[str]:
    """``method == "h4-2023"``, ``preset in ("zephyr", ...)`` and the like: a comparison with a preset's name in
    it, on something that reads like a preset (so a chat template named zephyr is no match)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Compare):
            continue
        code = ast.unparse(node)
        names = {c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and c.value in PRESETS}
        if names and ("preset" in code or "method" in code):
            found.append(f"{path.name}:{node.lineno}: {code}")
    return found


def test_no_module_outside_the_registry_compares_preset_names() -> None:
    package = REPO / "distill_data"
    found = [hit for path in sorted(package.rglob("*.py")) for hit in _comparisons_of_preset_names(path)]
    assert found == []


def test_the_name_check_sees_a_comparison(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('def f(method):\n    return 1 if method == "h4-2023" else "zephyr" in (method,)\n')
    assert len(_comparisons_of_preset_names(module)) == 2
    module.write_text('TEMPLATES = {"zephyr": "..."}\nok = "zephyr" == TEMPLATES\n')
    assert _comparisons_of_preset_names(module) == []


# A preset that is not in the package: score by helpfulness alone, reject the worst, leave out false_qa prompts.


def reject_the_worst(batch: ScoredBatch) -> np.ndarray:
    """rejected = the eligible completion other than the chosen one with the lowest score (the earliest on ties)."""
    others = np.flatnonzero(batch.eligible & (np.arange(len(batch.scores)) != batch.chosen[batch.parents]))
    ordered = others[np.lexsort((others, batch.scores[others], batch.parents[others]))]
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = batch.parents[ordered][1:] != batch.parents[ordered][:-1]
    rejected = np.full(len(batch.lists), -1, dtype=np.int64)
    rejected[batch.parents[ordered[first]]] = ordered[first]
    return rejected


HELPFUL_WORST = Preset(
    name="helpful-worst",
    score=MeanRating(aspects=("helpfulness",)),
    reject=reject_the_worst,
    note="score = the helpfulness rating; rejected = the lowest-scored other completion.",
    help="helpfulness only, the worst rejected",
    removes_sources=("false_qa",),
)


def expected_pair(row: dict) -> tuple[float, float, str] | None:
    """(chosen score, rejected score, chosen model) by hand, or None when the row has under two eligible."""
    eligible = [
        (float(c["annotations"]["helpfulness"]["Rating"]), c["model"])
        for c in row["completions"]
        if c["annotations"]["helpfulness"]["Rating"] != "N/A" and c["response"].strip()
    ]
    if len(eligible) < 2:
        return None
    best = max(score for score, _ in eligible)
    chosen = next(i for i, (score, _) in enumerate(eligible) if score == best)
    worst = min(score for i, (score, _) in enumerate(eligible) if i != chosen)
    return best, worst, eligible[chosen][1]


def test_a_preset_defined_here_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PRESETS, HELPFUL_WORST.name, HELPFUL_WORST)  # the one entry; nothing else changes
    rows = list(ultrafeedback_rows(300, seed=4))
    source = write_jsonl(tmp_path / "uf.jsonl", rows)

    # num_proc=1: the pipeline runs in this process (workers know the presets of distill_data/presets.py only)
    recipe = binarize_recipe([str(source)], preset="helpful-worst", test_size=20, seed=1)
    out = build(recipe, tmp_path / "out", progress=False, num_proc=1).output

    pairs = [
        row
        for split in ("train_prefs", "test_prefs")
        for row in pq.read_table(out / "data" / f"{split}-00000-of-00001.parquet").to_pylist()
    ]
    by_prompt = {row["instruction"]: row for row in rows}
    kept = [r for r in rows if r["source"] != "false_qa"]
    assert len(pairs) == sum(expected_pair(r) is not None for r in kept) and len(pairs) > 200
    for pair in pairs:
        row = by_prompt[pair["prompt"]]
        assert row["source"] != "false_qa"
        assert (pair["score_chosen"], pair["score_rejected"], pair["chosen_model"]) == expected_pair(row)

    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["recipe"]["steps"][:2] == [
        {"source_filter": {"exclude": ["false_qa"]}},
        {"binarize": {"method": "helpful-worst", "ties": "keep", "seed": 1}},
    ]
    binarized = provenance["steps"][1]
    assert binarized["dropped"] == {"fewer_than_2_valid_completions": len(kept) - len(pairs)}
    card = " ".join((out / "README.md").read_text().split())
    assert f"Method `helpful-worst`: {HELPFUL_WORST.note}" in card
    assert TRUTHFULQA_NOTE in card  # it keeps the TruthfulQA prompts, so the card says so
