"""A thin trainer over TRL: recipes -> SFTConfig/DPOConfig -> SFTTrainer/DPOTrainer (peft for LoRA/QLoRA)."""

from .chat_template import ZEPHYR
from .recipe import TrainRecipe, load_train_recipe, parse_train_recipe
from .run import TrainResult, build_config, train, train_dpo, train_sft

__all__ = [
    "ZEPHYR",
    "TrainRecipe",
    "TrainResult",
    "build_config",
    "load_train_recipe",
    "parse_train_recipe",
    "train",
    "train_dpo",
    "train_sft",
]
