"""distill-data: build Zephyr-style SFT and DPO datasets from teacher-generated data."""

from .builder import BuildResult, build
from .errors import ConfigError, ContractError, DistillDataError, InputError, OutputError
from .pipeline import Pipeline
from .recipes import Recipe, load_recipe, ultrachat_recipe
from .sources import UltraChatSource
from .splits import SplitConfig

__all__ = [
    "BuildResult",
    "ConfigError",
    "ContractError",
    "DistillDataError",
    "InputError",
    "OutputError",
    "Pipeline",
    "Recipe",
    "SplitConfig",
    "UltraChatSource",
    "build",
    "load_recipe",
    "ultrachat_recipe",
]
