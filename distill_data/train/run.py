"""Run a training recipe: data (checked first), tokenizer, model, TRL config and trainer, train, save, push.

The same code path serves the Zephyr recipes on GPUs (launch with ``accelerate launch``) and the smoke recipes
on a laptop CPU.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..output_folder import check_model_output, output_lock
from .data import load_mixture, texts
from .metrics import JsonlMetrics
from .model import check_reachable, load_model, load_tokenizer
from .recipe import TrainRecipe


@dataclass
class TrainResult:
    output_dir: Path
    metrics_file: Path
    train_rows: int
    global_step: int
    pushed_to: str | None = None


def build_config(recipe: TrainRecipe) -> Any:
    """TRL's SFTConfig or DPOConfig from the recipe's ``training`` section (no model, no GPU needed)."""
    from trl import DPOConfig, SFTConfig

    config_class = SFTConfig if recipe.stage == "sft" else DPOConfig
    settings = {"seed": recipe.seed, "report_to": "none", **recipe.training}
    try:
        return config_class(**settings)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{recipe.source}: training: {exc}") from None


def _peft_config(recipe: TrainRecipe) -> Any:
    if not recipe.peft:
        return None
    from peft import LoraConfig

    return LoraConfig(**{"task_type": "CAUSAL_LM", **recipe.peft})


def train(recipe: TrainRecipe, force_overwrite: bool = False) -> TrainResult:
    """Train as the recipe says; the output folder gets the model, the tokenizer (with its chat template) and
    ``metrics.jsonl``. The folder is checked first (never one holding the data or the model, nor a non-empty
    folder of other files unless ``force_overwrite``), and one run at a time writes it."""
    inputs = [spec.path for spec in recipe.datasets] + [recipe.model.name_or_path or ""]
    check_model_output(recipe.output_dir, force=force_overwrite, inputs=[spec for spec in inputs if spec])
    with output_lock(recipe.output_dir):
        return _train(recipe)


def _train(recipe: TrainRecipe) -> TrainResult:
    from trl import DPOTrainer, SFTTrainer

    check_reachable(recipe.model)
    train_data, eval_data = load_mixture(recipe.datasets, recipe.stage, recipe.seed)  # columns checked here
    config = build_config(recipe)
    corpus = texts(train_data, recipe.stage) if recipe.model.init is not None else None  # a tokenizer to train
    tokenizer = load_tokenizer(recipe.model, recipe.chat_template, corpus)
    model = load_model(recipe.model, tokenizer, recipe.seed, recipe.quantization)
    metrics_file = Path(recipe.metrics_file) if recipe.metrics_file else recipe.output_dir / "metrics.jsonl"
    common = {
        "model": model,
        "args": config,
        "train_dataset": train_data,
        "eval_dataset": eval_data,
        "processing_class": tokenizer,
        "callbacks": [JsonlMetrics(metrics_file)],
        "peft_config": _peft_config(recipe),
    }
    if recipe.stage == "dpo" and recipe.model.init is not None and not recipe.peft:
        # TRL reloads a frozen reference copy from the model's name; a random model has none, so hand it one.
        common["ref_model"] = copy.deepcopy(model)
    trainer = SFTTrainer(**common) if recipe.stage == "sft" else DPOTrainer(**common)
    trainer.train()
    trainer.save_model(str(recipe.output_dir))
    tokenizer.save_pretrained(str(recipe.output_dir))
    pushed = _push(recipe) if recipe.push else None
    return TrainResult(recipe.output_dir, metrics_file, len(train_data), trainer.state.global_step, pushed)


def _push(recipe: TrainRecipe) -> str:
    """Upload the output folder as a model repository in one commit (token from HF_TOKEN or the login)."""
    from huggingface_hub import HfApi

    push = recipe.push or {}
    api = HfApi()
    repo_id = push["repo_id"]
    api.create_repo(repo_id, repo_type="model", private=bool(push.get("private")), exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(recipe.output_dir),
        revision=push.get("revision"),
        commit_message=f"Upload {recipe.stage.upper()} model trained with distill-data",
        ignore_patterns=["checkpoint-*/**", "metrics.jsonl"],
    )
    return str(info)
