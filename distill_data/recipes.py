"""Recipes: a whole data job as YAML (inputs, steps with parameters, splits, format), and back.

``recipes/ultrachat_200k.yaml`` holds the default UltraChat recipe; ``distill-data ultrachat`` builds the
same recipe from its flags with :func:`ultrachat_recipe`, so the two always agree (``distill-data binarize``
likewise with :func:`binarize_recipe`). The steps of each come from its kind (:mod:`distill_data.kinds`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .declared_types import check_value, field_hints
from .errors import ConfigError
from .kinds import kinds
from .kinds.ultrachat import ultrachat_steps
from .kinds.ultrafeedback import binarize_steps
from .pipeline import Pipeline
from .presets import DEFAULT_PRESET
from .processors import Processor
from .recipe_yaml import load_yaml
from .splits import SplitConfig

FORMATS = ("parquet", "arrow")
_KEYS = ("kind", "inputs", "steps", "split", "format")


@dataclass
class Recipe:
    """A data job: where rows come from, what happens to them, how they are split and written."""

    kind: str
    inputs: list[str]
    steps: list[Processor]
    split: SplitConfig = field(default_factory=SplitConfig)
    format: str = "parquet"

    def pipeline(self) -> Pipeline:
        return Pipeline(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "inputs": list(self.inputs),
            "steps": [step.to_dict() for step in self.steps],
            "split": self.split.to_dict(),
            "format": self.format,
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_dict(cls, data: Any, where: str = "recipe") -> Recipe:
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a mapping at the top level")
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key {', '.join(map(repr, unknown))}; expected {', '.join(_KEYS)}")
        kind = data.get("kind")
        if kind not in kinds():
            raise ConfigError(f"{where}: 'kind' must be one of {', '.join(kinds())}, got {kind!r}")
        inputs = data.get("inputs") or []
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            raise ConfigError(f"{where}: 'inputs' must be a list of paths or Hub ids")
        steps = data.get("steps")
        if not isinstance(steps, list):
            raise ConfigError(f"{where}: 'steps' must be a list of processors")
        split = data.get("split") or {}
        if not isinstance(split, dict):
            raise ConfigError(f"{where}: 'split' must be a mapping")
        unknown = sorted(set(split) - {"test_size", "max_samples", "seed"})
        if unknown:
            raise ConfigError(f"{where}: split: unknown key {', '.join(map(repr, unknown))}")
        fmt = data.get("format", "parquet")
        if fmt not in FORMATS:
            raise ConfigError(f"{where}: 'format' must be one of {', '.join(FORMATS)}, got {fmt!r}")
        hints = field_hints(SplitConfig)
        for key, value in split.items():
            try:
                check_value(value, hints[key], f"split.{key}")
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
        try:
            split_config = SplitConfig(**split)
        except ConfigError as exc:
            raise ConfigError(f"{where}: split: {exc}") from None
        return cls(kind, inputs, Pipeline.from_list(steps, f"{where}: steps").steps, split_config, fmt)


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe file; errors name the file and the offending key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read recipe: {exc.strerror}") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    return Recipe.from_dict(data, str(path))


def ultrachat_recipe(
    inputs: list[str],
    *,
    filter: bool = True,
    truecase: bool = True,
    languages: tuple[str, ...] = ("en",),
    max_chars: int | None = None,
    decontaminate: tuple[str, ...] = (),
    near_dedup: float | None = None,
    split: SplitConfig | None = None,
    format: str = "parquet",
) -> Recipe:
    steps = ultrachat_steps(
        filter=filter,
        truecase=truecase,
        languages=languages,
        max_chars=max_chars,
        decontaminate=decontaminate,
        near_dedup=near_dedup,
    )
    return Recipe("ultrachat", list(inputs), steps, split or SplitConfig(), format)


def binarize_recipe(
    inputs: list[str],
    *,
    preset: str = DEFAULT_PRESET,
    seed: int = 42,
    ties: str = "keep",
    test_size: float | int = 2000,
    max_samples: int | None = None,
    format: str = "parquet",
    decontaminate: tuple[str, ...] = (),
    near_dedup: float | None = None,
) -> Recipe:
    """The binarization recipe for a preset; the same seed drives the rejected pick and the split."""
    return Recipe(
        "ultrafeedback",
        list(inputs),
        binarize_steps(preset, seed=seed, ties=ties, decontaminate=decontaminate, near_dedup=near_dedup),
        SplitConfig(test_size=test_size, max_samples=max_samples, seed=seed),
        format,
    )
