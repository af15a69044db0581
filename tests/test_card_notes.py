"""The card's "Known limitations" come from the steps that ran (``Processor.card_notes``), so flags that change
the steps change the notes: ``--no-truecase`` drops the truecasing note, ``--near-dedup`` replaces "near-duplicates
remain" by what near_dedup removed, ``--no-filter`` drops the language and dedup notes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, write_jsonl
from huggingface_hub import DatasetCard

from distill_data.cli import cli
from distill_data.processors import Binarize, Dedup, NearDedup, Processor, PromptId, Truecase
from distill_data.synthetic import ultrachat_rows

TRUECASE = "Truecasing is rule-based"
LANGUAGE = "Language identification (langdetect)"
EXACT_ONLY = "Deduplication is exact, on the normalised first user turn; near-duplicates remain."
NEAR = "Near-duplicates were removed"

Build = Callable[..., Path]


def limitations(folder: Path) -> list[str]:
    text = (folder / "README.md").read_text(encoding="utf-8")
    section = text.split("## Known limitations\n\n", 1)[1].split("\n\n## ", 1)[0]
    return [line.removeprefix("- ") for line in section.splitlines()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("notes") / "uc.jsonl", list(ultrachat_rows(200, seed=5)))


@pytest.fixture(scope="module")
def build(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Build:
    def run(*flags: str) -> Path:
        """Build with the UltraChat 200k filters (the reference recipe's steps), changed by ``flags``."""
        out = tmp_path_factory.mktemp("card") / "out"
        args = ["ultrachat", "--input", str(corpus), "--output", str(out), "--test-size", "0.1", "--no-progress"]
        result = CliRunner().invoke(cli, [*args, "--filter", *flags])
        assert result.exit_code == 0, result.output
        return out

    return run


@pytest.fixture(scope="module")
def default_notes(build: Build) -> list[str]:
    return limitations(build())


def test_the_default_notes_are_those_of_the_reference_card(default_notes: list[str]) -> None:
    assert default_notes == limitations(REPO / "data_cards" / "ultrachat_200k")
    assert [n for n in default_notes if n.startswith((TRUECASE, LANGUAGE))] and EXACT_ONLY in default_notes


def test_no_truecase_drops_the_truecasing_note(build: Build, default_notes: list[str]) -> None:
    notes = limitations(build("--no-truecase"))
    assert notes == [n for n in default_notes if not n.startswith(TRUECASE)]


def test_near_dedup_says_near_duplicates_were_removed(build: Build, default_notes: list[str]) -> None:
    out = build("--near-dedup", "0.8")
    notes = limitations(out)
    (near,) = [n for n in notes if n.startswith(NEAR)]
    assert "at least 0.8 " in near and "5-gram" in near and "128 permutations" in near
    assert EXACT_ONLY not in notes
    assert [n for n in notes if n != near] == [n for n in default_notes if n != EXACT_ONLY]
    assert notes.index(near) == default_notes.index(EXACT_ONLY)  # in the order the steps ran
    card = (out / "README.md").read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, ["card", str(out)])  # rebuilt from provenance alone: the same notes
    assert result.exit_code == 0, result.output
    assert (out / "README.md").read_text(encoding="utf-8") == card


def test_no_filter_drops_the_notes_of_the_steps_that_did_not_run(build: Build, default_notes: list[str]) -> None:
    out = build("--no-filter")
    notes = limitations(out)
    assert notes == [n for n in default_notes if not n.startswith(LANGUAGE) and n != EXACT_ONLY]
    assert DatasetCard.load(out / "README.md").data.to_dict().get("language") is None  # no language filter ran


def test_a_step_says_nothing_unless_it_has_something_to_say() -> None:
    steps: list[Processor] = [PromptId(), Dedup()]
    assert PromptId().card_notes(steps) == ()
    assert Dedup().card_notes(steps) == (EXACT_ONLY,)
    assert Dedup().card_notes([*steps, NearDedup()]) == ()
    assert Truecase().card_notes([Truecase()])[0].startswith(TRUECASE)


@pytest.mark.parametrize(
    ("method", "h4_defects", "truthfulqa"),
    [("zephyr", False, True), ("h4-2023", True, True), ("argilla-clean", False, False)],
)
def test_binarize_notes_its_method(method: str, h4_defects: bool, truthfulqa: bool) -> None:
    step = Binarize(method=method)  # type: ignore[arg-type]
    notes = step.card_notes([step])
    assert notes[0].startswith(f"Method `{method}`: ")
    assert any("defects on purpose" in n for n in notes) is h4_defects
    assert any(n.startswith("UltraFeedback contains TruthfulQA prompts") for n in notes) is truthfulqa
