"""distill-data: build Zephyr-style SFT and DPO datasets from teacher-generated data, and train on them.

The public names below are imported on first use, so ``import distill_data.train`` (the trainer, used on GPU
machines) does not pull in the data pipeline's dependencies, and the reverse.
"""

from __future__ import annotations

from .lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
