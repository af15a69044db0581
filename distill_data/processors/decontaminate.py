"""Decontaminate: drop rows whose prompt matches a benchmark prompt (exactly, or by a shared word n-gram).

Training on benchmark prompts inflates evaluation scores; the published UltraFeedback binarization shipped the
TruthfulQA prompts. The benchmark sets are read once into an index (normalised prompts, and the set of their word
n-grams); each row's prompt is then checked against it.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from ..errors import ConfigError, InputError
from .base import Filter

PROMPT_FIELDS = ("prompt", "question", "Question", "instruction", "turns", "turn", "text")
_NON_WORD = re.compile(r"[^\w]+")


def words(text: str) -> list[str]:
    """Lowercased words, punctuation removed: the form both sides are compared in."""
    return _NON_WORD.sub(" ", text.lower()).split()


def _prompts_of(row: dict[str, Any]) -> list[str]:
    for key in PROMPT_FIELDS:
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return [value]
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return list(value)
    return []


def load_benchmark(spec: str) -> tuple[str, list[str]]:
    """``(name, prompts)`` of a benchmark file (.jsonl, .json, .csv, .parquet) or Hub id (``owner/name[:split]``).

    The prompt of a row is its first field among prompt, question, Question, instruction, turns (every turn),
    turn, text.
    """
    path = Path(spec)
    rows: list[dict[str, Any]]
    if path.is_file():
        name = path.stem
        if path.suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.DictReader(handle))
        elif path.suffix == ".parquet":
            import pyarrow.parquet as pq

            rows = pq.read_table(path).to_pylist()
        elif path.suffix in (".jsonl", ".json"):
            text = path.read_text(encoding="utf-8-sig")
            try:
                document = json.loads(text)
                rows = document if isinstance(document, list) else [document]
            except json.JSONDecodeError:
                rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            raise InputError("unsupported benchmark file type; use .jsonl, .json, .csv or .parquet", file=spec)
    elif re.match(r"^[\w.-]+/[\w.-]+(:[\w.-]+)?$", spec):
        import datasets

        repo_id, _, split = spec.partition(":")
        name = repo_id
        try:
            rows = list(datasets.load_dataset(repo_id, split=split or "test"))
        except (FileNotFoundError, ValueError, ConnectionError, OSError) as exc:
            raise InputError(f"could not load this benchmark: {exc}", file=spec) from None
    else:
        raise InputError("no such benchmark file or Hub id", file=spec)
    prompts = [prompt for row in rows for prompt in _prompts_of(row)]
    if not prompts:
        raise InputError(f"no prompts found (looked for the fields {', '.join(PROMPT_FIELDS)})", file=spec)
    return name, prompts


@dataclass
class Decontaminate(Filter):
    """Drop rows whose ``prompt`` equals a benchmark prompt after normalisation (reason ``benchmark_exact``) or
    shares at least ``min_shared`` word ``ngram``-grams with one (reason ``benchmark_ngram``; the detail names the
    benchmark and the n-gram). With ``all_user_turns`` every user turn of ``messages`` is checked instead.
    """

    name: ClassVar[str] = "decontaminate"

    benchmarks: tuple[str, ...] = ()
    ngram: int = 13
    min_shared: int = 1
    all_user_turns: bool = False
    _index: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.benchmarks:
            raise ConfigError("parameter 'benchmarks' must name at least one benchmark file or Hub id")
        if self.ngram < 1 or self.min_shared < 1:
            raise ConfigError("parameters 'ngram' and 'min_shared' must be positive")

    @property
    def inputs(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("messages",) if self.all_user_turns else ("prompt",)

    def setup(self) -> None:
        if self._index is None:
            exact: dict[str, str] = {}
            grams: dict[tuple[str, ...], str] = {}
            for spec in self.benchmarks:
                name, prompts = load_benchmark(spec)
                for prompt in prompts:
                    tokens = words(prompt)
                    exact.setdefault(" ".join(tokens), name)
                    for i in range(len(tokens) - self.ngram + 1):
                        grams.setdefault(tuple(tokens[i : i + self.ngram]), name)
            self._index = {"exact": exact, "grams": grams}

    def drop_reasons(self, table: pa.Table) -> tuple[pa.Array, pa.Array | None]:
        self.setup()
        assert self._index is not None
        exact, grams = self._index["exact"], self._index["grams"]
        texts = self._texts(table)
        reasons = np.full(len(texts), None, dtype=object)
        details = np.full(len(texts), None, dtype=object)
        for row, candidates in enumerate(texts):
            for text in candidates:
                tokens = words(text or "")
                match = exact.get(" ".join(tokens))
                if match is not None and tokens:
                    reasons[row], details[row] = "benchmark_exact", match
                    break
                shared, first = 0, None
                for i in range(len(tokens) - self.ngram + 1):
                    gram = tuple(tokens[i : i + self.ngram])
                    if gram in grams:
                        shared += 1
                        first = first or (grams[gram], " ".join(gram))
                        if shared >= self.min_shared:
                            break
                if shared >= self.min_shared and first is not None:
                    reasons[row], details[row] = "benchmark_ngram", f"{first[0]}: '{first[1]}'"
                    break
        return pa.array(reasons, pa.string()), pa.array(details, pa.string())

    def _texts(self, table: pa.Table) -> list[list[str]]:
        if not self.all_user_turns:
            return [[p] for p in table.column("prompt").to_pylist()]
        messages = table.column("messages").to_pylist()
        return [[m["content"] for m in (dialogue or []) if m["role"] == "user"] for dialogue in messages]
