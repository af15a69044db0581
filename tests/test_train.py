"""The bundled trainer on CPU: the smoke chain end to end, the Zephyr chat template, and recipe errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import BUNDLED_SAMPLE, REPO

from distill_data import build, load_recipe
from distill_data.cli import cli
from distill_data.train.metrics import read_metrics

# The template HuggingFaceH4/zephyr-7b-beta ships (alignment-handbook's DEFAULT_CHAT_TEMPLATE), verbatim.
ORIGINAL_ZEPHYR = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + "
    "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
)
CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "How do plants make food?"},
    {"role": "assistant", "content": "Photosynthesis."},
    {"role": "user", "content": "And at night?"},
    {"role": "assistant", "content": "They respire."},
]


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output + (f"\n{result.exception!r}" if result.exception else "")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two datasets of the smoke chain, built from the bundled samples."""
    work = tmp_path_factory.mktemp("train-data")
    sft = load_recipe(REPO / "recipes" / "ultrachat_200k.yaml")
    sft.inputs = [str(BUNDLED_SAMPLE)]
    dpo = load_recipe(REPO / "recipes" / "ultrafeedback_binarized.yaml")
    dpo.inputs = [str(REPO / "distill_data" / "samples" / "ultrafeedback_sample.jsonl")]
    dpo.split.test_size = 0.1
    return {
        "sft": build(sft, work / "ultrachat", progress=False).output,
        "dpo": build(dpo, work / "ultrafeedback", progress=False).output,
    }


@pytest.fixture(scope="module")
def sft_model(data: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sft-model") / "sft"
    code, output = invoke(
        "train",
        "sft",
        "--recipe",
        REPO / "recipes" / "smoke" / "sft.yaml",
        "--set",
        f"datasets.0.path={data['sft']}",
        "--set",
        f"training.output_dir={out}",
        "--set",
        "training.max_steps=6",
    )
    assert code == 0, output
    return out


def test_sft_outputs_load_and_render_like_zephyr(sft_model: Path) -> None:
    from jinja2 import Environment
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(sft_model)
    tokenizer = AutoTokenizer.from_pretrained(sft_model)
    assert model.config.model_type == "mistral" and model.config.vocab_size == len(tokenizer)
    reference = Environment(trim_blocks=True, lstrip_blocks=True).from_string(ORIGINAL_ZEPHYR)
    for generation_prompt in (False, True):
        for conversation in (CONVERSATION, CONVERSATION[1:4]):
            ours = tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=generation_prompt)
            expected = reference.render(
                messages=conversation, eos_token=tokenizer.eos_token, add_generation_prompt=generation_prompt
            )
            assert ours == expected
    assert expected.startswith("<|user|>\nHow do plants make food?</s>\n<|assistant|>\nPhotosynthesis.</s>\n")
    metrics = read_metrics(sft_model / "metrics.jsonl")
    losses = [m["loss"] for m in metrics if "loss" in m]
    assert losses and all(isinstance(x, float) and math.isfinite(x) for x in losses)


def test_assistant_only_loss_masks_everything_but_the_assistant(sft_model: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(sft_model)
    encoded = tokenizer.apply_chat_template(
        CONVERSATION, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = encoded["input_ids"], encoded["assistant_masks"]
    learned = tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m])
    ignored = tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if not m])
    assert learned == "Photosynthesis.</s>They respire.</s>"
    assert "How do plants make food?" in ignored and "You are terse." in ignored and "<|assistant|>" in ignored


def test_loss_goes_down_on_a_repeated_batch(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "overfit"
    code, output = invoke(
        "train",
        "sft",
        "--recipe",
        REPO / "recipes" / "smoke" / "sft.yaml",
        "--set",
        f"datasets.0.path={data['sft']}",
        "--set",
        "datasets.0.weight=0.015",
        "--set",
        f"training.output_dir={out}",
        "--set",
        "training.max_steps=16",
        "--set",
        "training.logging_steps=1",
        "--set",
        "training.learning_rate=3e-3",
        "--set",
        "training.lr_scheduler_type=constant",
        "--set",
        "training.warmup_steps=0",
    )
    assert code == 0, output
    losses = [m["loss"] for m in read_metrics(out / "metrics.jsonl") if "loss" in m]
    assert len(losses) == 16 and all(math.isfinite(x) for x in losses)
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3


def test_dpo_from_the_sft_model_logs_preference_metrics(data: dict[str, Path], sft_model: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    out = tmp_path / "dpo"
    code, output = invoke(
        "train",
        "dpo",
        "--recipe",
        REPO / "recipes" / "smoke" / "dpo.yaml",
        "--set",
        f"model.name_or_path={sft_model}",
        "--set",
        f"datasets.0.path={data['dpo']}",
        "--set",
        f"training.output_dir={out}",
        "--set",
        "training.max_steps=4",
    )
    assert code == 0, output
    metrics = [m for m in read_metrics(out / "metrics.jsonl") if "loss" in m]
    assert metrics
    for key in ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins"):
        assert all(isinstance(m[key], float) and math.isfinite(m[key]) for m in metrics), key
    assert AutoModelForCausalLM.from_pretrained(out).config.model_type == "mistral"


def test_a_dataset_without_the_needed_columns_is_refused_before_the_model_loads(
    data: dict[str, Path], tmp_path: Path
) -> None:
    code, output = invoke(
        "train",
        "dpo",
        "--recipe",
        REPO / "recipes" / "smoke" / "dpo.yaml",
        "--set",
        f"model.name_or_path={tmp_path / 'no-such-model'}",
        "--set",
        f"datasets.0.path={data['sft']}",
        "--set",
        "datasets.0.split=train_sft",
        "--set",
        f"training.output_dir={tmp_path / 'o'}",
    )
    assert code == 2, output
    assert "needs column(s) chosen, rejected; missing chosen, rejected" in " ".join(output.split())
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.learning_rat=1e-4", "training (SFTConfig): unknown key 'learning_rat'"),
        ("model.dtype=fp8", "model.dtype must be one of"),
        ("datasets.0.weight=2", "weight must be a fraction in (0, 1]"),
        ("peft.rank=8", "peft (LoraConfig): unknown key 'rank'"),
        ("extra=1", "unknown key 'extra'"),
        ("nonsense", "expected KEY=VALUE"),
    ],
)
def test_recipe_errors_name_the_key(override: str, message: str) -> None:
    code, output = invoke("train", "sft", "--recipe", REPO / "recipes" / "smoke" / "sft.yaml", "--set", override)
    assert code == 2, output
    assert message in " ".join(output.split())


def test_missing_split_and_missing_recipe(data: dict[str, Path], tmp_path: Path) -> None:
    code, output = invoke(
        "train",
        "sft",
        "--recipe",
        REPO / "recipes" / "smoke" / "sft.yaml",
        "--set",
        f"datasets.0.path={data['sft']}",
        "--set",
        "datasets.0.split=train_prefs",
        "--set",
        f"training.output_dir={tmp_path / 'sft'}",
    )
    assert code == 1 and "no split 'train_prefs'" in output
    assert not (tmp_path / "sft").exists()
    code, output = invoke("train", "sft", "--recipe", tmp_path / "none.yaml")
    assert code == 2 and "cannot read recipe" in output


def test_trust_remote_code_is_off_unless_asked() -> None:
    from distill_data.train import load_train_recipe

    recipe = load_train_recipe(REPO / "recipes" / "smoke" / "dpo.yaml", "dpo")
    assert recipe.model.trust_remote_code is False
    recipe = load_train_recipe(REPO / "recipes" / "smoke" / "dpo.yaml", "dpo", ["model.trust_remote_code=true"])
    assert recipe.model.trust_remote_code is True
