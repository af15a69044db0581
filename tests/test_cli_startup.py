"""The CLI starts without importing the pipeline's heavy libraries, so ``--help`` answers at once.

Time is measured in benchmarks/bench_startup.py; here the cause is checked: what ``--help`` imports.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "pyarrow",
    "polars",
    "numpy",
    "pandas",
    "datasets",
    "huggingface_hub",
    "langdetect",
    "ftfy",
    "matplotlib",
    "torch",
    "transformers",
    "trl",
    "httpx",
    "ray",
)
COMMANDS = [
    [],
    ["ultrachat"],
    ["binarize"],
    ["run"],
    ["card"],
    ["push"],
    ["check"],
    ["generate"],
    ["rate"],
    ["train", "sft"],
    ["train", "dpo"],
]

PROBE = """
import json, sys
from distill_data.cli import cli
try:
    cli(sys.argv[1:], standalone_mode=False)
finally:
    print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})), file=sys.stderr)
"""


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "distill-data")
def test_help_imports_nothing_heavy(command: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, *command, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    imported = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert "distill_data" in imported
    assert sorted(imported & set(HEAVY)) == []
