"""Shared fixtures: generated raw corpora in the exact UltraChat schema, and the real sample rows."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import settings

from distill_data.synthetic import ultrachat_rows

# Hypothesis profiles. "ci" (the default) keeps the property tests fast; for a long local search run
#   HYPOTHESIS_PROFILE=thorough python -m pytest -q tests/test_fuzz_sources.py tests/test_fuzz_processors.py
# Tests that set their own max_examples keep it under either profile.
settings.register_profile("ci", max_examples=25, deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=2_000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Slow end-to-end suites (training, notebooks, benchmark scripts, Ray, a model server, runs killed and resumed, the
# local Hub server, URL inputs over HTTP):
# marked `slow`, left out of the default run (`python -m pytest -q`, see pyproject.toml) and run by .ci/run as its
# own mandatory step (`python -m pytest -q -m slow`), with single tests marked slow in their files. Both steps
# together are the whole suite.
SLOW_MODULES = frozenset(
    {
        "test_benchmarks.py",
        "test_faults.py",
        "test_feedback_serve.py",
        "test_hub_server.py",
        "test_hub_source.py",
        "test_notebooks.py",
        "test_push.py",
        "test_ray_engine.py",
        "test_resume.py",
        "test_train.py",
        "test_train_push.py",
        "test_url_inputs.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
REAL_ULTRACHAT = TEST_DATA / "ultrachat_raw.jsonl"
PROMPT_ID_PAIRS = TEST_DATA / "prompt_id_pairs.jsonl"
BUNDLED_SAMPLE = REPO / "distill_data" / "samples" / "ultrachat_sample.jsonl"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def corpus_rows() -> list[dict]:
    """3,000 generated rows plus the real UltraChat row 0."""
    real = json.loads(REAL_ULTRACHAT.read_text(encoding="utf-8"))
    return [real, *ultrachat_rows(3000, seed=7)]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory, corpus_rows: list[dict]) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("corpus") / "ultrachat.jsonl", corpus_rows)
