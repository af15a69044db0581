"""A thin trainer over TRL: recipes -> SFTConfig/DPOConfig -> SFTTrainer/DPOTrainer (peft for LoRA/QLoRA).

The public names are imported on first use, so a light module of the package (``train.recipe``) loads without
transformers.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "ZEPHYR": "chat_template",
    "TrainRecipe": "recipe",
    "load_train_recipe": "recipe",
    "parse_train_recipe": "recipe",
    "TrainResult": "run",
    "build_config": "run",
    "train": "run",
}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
