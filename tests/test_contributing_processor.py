"""CONTRIBUTING.md's "Adding a processor" works as written: its filter, its unit test and its recipe."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
import yaml
from conftest import BUNDLED_SAMPLE, REPO

import distill_data.processors
from distill_data.builder import build
from distill_data.processors import base
from distill_data.recipes import Recipe

SECTION = "## Adding a processor"


def blocks() -> dict[str, str]:
    """The section's filter module, unit test and recipe, as written there."""
    text = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))  # the next section, if any
    section = text[start : end if end != -1 else None]
    found = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    return {
        "module": next(code for lang, code in found if lang == "python" and "class ShortPromptFilter" in code),
        "test": next(code for lang, code in found if lang == "python" and "def test_" in code),
        "recipe": next(code for lang, code in found if lang == "yaml"),
    }


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The example filter as if it were distill_data/processors/short_prompt.py, registered for this test only."""
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))
    code = blocks()
    module = types.ModuleType("distill_data.processors.short_prompt")
    module.__package__ = "distill_data.processors"
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(code["module"], "CONTRIBUTING.md (short_prompt.py)", "exec"), module.__dict__)
    monkeypatch.setattr(distill_data.processors, "ShortPromptFilter", module.ShortPromptFilter, raising=False)
    return code


def test_the_example_unit_test_passes(example: dict[str, str]) -> None:
    namespace: dict[str, object] = {"__name__": "contributing_example_test"}
    exec(compile(example["test"], "CONTRIBUTING.md (test_short_prompt.py)", "exec"), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_") and callable(value)]
    assert len(tests) == 3
    for test in tests:
        test()


def test_the_example_recipe_builds_and_the_card_notes_the_step(example: dict[str, str], tmp_path: Path) -> None:
    data = yaml.safe_load(example["recipe"])
    data["inputs"] = [str(BUNDLED_SAMPLE)]
    result = build(Recipe.from_dict(data), tmp_path / "out", progress=False, num_proc=1)
    step = next(step for step in result.steps if step["name"] == "short_prompt_filter")
    assert step["dropped"] == {"short_prompt": 2}  # what the section says of the bundled sample
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "Dialogues whose first user turn has fewer than 40 characters were dropped." in card
    assert "(27 characters)" in card
