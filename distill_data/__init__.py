"""distill-data: build Zephyr-style SFT and DPO datasets from teacher-generated data, and train on them.

The public names below are imported on first use, so ``import distill_data.train`` (the trainer, used on GPU
machines) does not pull in the data pipeline's dependencies, and the reverse.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BuildResult": "builder",
    "build": "builder",
    "ConfigError": "errors",
    "ContractError": "errors",
    "DistillDataError": "errors",
    "InputError": "errors",
    "OutputError": "errors",
    "Pipeline": "pipeline",
    "Recipe": "recipes",
    "load_recipe": "recipes",
    "ultrachat_recipe": "recipes",
    "UltraChatSource": "sources",
    "SplitConfig": "splits",
    "push": "hub",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'distill_data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
