"""Recipe values must have their declared types: a string is never a boolean, a float never an int.

YAML reads ``"false"`` as a string and a non-empty string is truthy, so ``trust_remote_code: "false"`` used to
run code from the model folder. Booleans are YAML 1.2's: ``true``/``false`` only (``yes``/``no`` are strings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import BUNDLED_SAMPLE

from distill_data.cli import cli
from distill_data.errors import ConfigError
from distill_data.train.recipe import load_train_recipe


def write_recipe(tmp_path: Path, model: str = "", training: str = "", extra: str = "") -> Path:
    """A training recipe whose model and data do not exist: only parsing can succeed."""
    path = tmp_path / "recipe.yaml"
    path.write_text(
        f"model:\n  name_or_path: {tmp_path / 'no-model'}\n{model}"
        f"datasets:\n  - path: {tmp_path / 'no-data'}\n    split: train_sft\n"
        f"training:\n  output_dir: {tmp_path / 'out'}\n{training}{extra}",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if training (data, tokenizer or model loading) starts at all."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("training started: the recipe should have been refused while parsing")

    monkeypatch.setattr("distill_data.train.train", refuse)


def train_cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["train", *map(str, args)])
    return result.exit_code, " ".join(result.output.split())


def test_trust_remote_code_as_a_string_exits_2_before_any_model_loads(tmp_path: Path, no_training: None) -> None:
    path = write_recipe(tmp_path, model='  trust_remote_code: "false"\n')
    code, output = train_cli("sft", "--recipe", path)
    assert code == 2, output
    assert f"{path}: model.trust_remote_code must be true or false (YAML boolean), got the string 'false'" in output


@pytest.mark.parametrize(
    ("line", "key", "got"),
    [
        ('  packing: "yes"\n', "training.packing", "the string 'yes'"),
        ('  bf16: "true"\n', "training.bf16", "the string 'true'"),
        ("  use_cpu: yes\n", "training.use_cpu", "the string 'yes'"),  # YAML 1.1's yes is not a boolean here
        ("  disable_tqdm: 1\n", "training.disable_tqdm", "1"),
    ],
)
def test_a_trl_boolean_must_be_true_or_false(tmp_path: Path, line: str, key: str, got: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_train_recipe(write_recipe(tmp_path, training=line), "sft")
    assert f"{key} must be true or false (YAML boolean)" in str(info.value)
    assert str(info.value).endswith(f"got {got}")


@pytest.mark.parametrize(
    ("stage", "text", "message"),
    [
        ("sft", "  max_steps: 1.5\n", "training.max_steps must be an integer, got 1.5"),
        ("dpo", "  per_device_train_batch_size: '4'\n", "training.per_device_train_batch_size must be an integer"),
        ("sft", "peft:\n  r: 8.5\n", "peft.r must be an integer, got 8.5"),
        ("sft", "seed: 4.2\n", "seed must be an integer, got 4.2"),
        ("dpo", "  beta: true\n", "training.beta must be a number, got true"),
    ],
)
def test_an_int_field_refuses_a_float_and_a_number_field_a_boolean(
    tmp_path: Path, stage: str, text: str, message: str
) -> None:
    path = write_recipe(tmp_path, training=text) if text.startswith(" ") else write_recipe(tmp_path, extra=text)
    with pytest.raises(ConfigError, match="must be") as info:
        load_train_recipe(path, stage)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_a_float_field_takes_an_int_and_a_numeric_string_but_not_a_boolean(tmp_path: Path) -> None:
    recipe = load_train_recipe(write_recipe(tmp_path, training="  learning_rate: 1\n  adam_epsilon: 1e-8\n"), "sft")
    assert recipe.training["learning_rate"] == 1 and recipe.training["adam_epsilon"] == 1e-8
    with pytest.raises(ConfigError, match=r"training.learning_rate must be a number, got true"):
        load_train_recipe(write_recipe(tmp_path, training="  learning_rate: true\n"), "sft")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('push:\n  repo_id: me/model\n  private: "false"\n', "push.private must be true or false (YAML boolean)"),
        ('quantization:\n  load_in_4bit: "true"\n', "quantization.load_in_4bit must be true or false (YAML boolean)"),
        ("peft:\n  use_rslora: on\n", "peft.use_rslora must be true or false (YAML boolean), got the string 'on'"),
    ],
)
def test_push_quantization_and_peft_booleans_are_checked(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_train_recipe(write_recipe(tmp_path, extra=extra), "sft")
    assert message in str(info.value)


def test_a_dataset_weight_of_true_is_not_a_fraction(tmp_path: Path) -> None:
    path = write_recipe(tmp_path)
    with pytest.raises(ConfigError, match=r"datasets\[0\]\.weight must be a number, got true"):
        load_train_recipe(path, "sft", ["datasets.0.weight=true"])


def test_yaml_no_in_a_string_field_stays_the_string(tmp_path: Path) -> None:
    recipe = load_train_recipe(write_recipe(tmp_path, training="  eval_strategy: no\n"), "sft")
    assert recipe.training["eval_strategy"] == "no"


def test_set_overrides_give_booleans_and_refuse_quoted_strings(tmp_path: Path, no_training: None) -> None:
    path = write_recipe(tmp_path, model="  trust_remote_code: true\n")
    recipe = load_train_recipe(path, "sft", ["model.trust_remote_code=false", "training.packing=true"])
    assert recipe.model.trust_remote_code is False and recipe.training["packing"] is True
    code, output = train_cli("sft", "--recipe", path, "--set", 'model.trust_remote_code="false"')
    assert code == 2, output
    assert "model.trust_remote_code must be true or false (YAML boolean), got the string 'false'" in output
    code, output = train_cli("sft", "--recipe", path, "--set", "training.bf16=yes")
    assert code == 2, output
    assert "training.bf16 must be true or false (YAML boolean) or null, got the string 'yes'" in output


def run_data_recipe(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "data.yaml"
    path.write_text(f"kind: ultrachat\ninputs: [{BUNDLED_SAMPLE}]\n{text}", encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(path), "-o", str(tmp_path / "out")])
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize(("value", "got"), [('"false"', "the string 'false'"), ("no", "the string 'no'")])
def test_data_recipe_boolean_parameter_must_be_true_or_false(tmp_path: Path, value: str, got: str) -> None:
    code, output = run_data_recipe(
        tmp_path, f"steps:\n  - language_filter:\n      prescreen: {value}\n  - prompt_id: {{}}\n"
    )
    assert code == 2, output
    assert f"parameter 'prescreen' must be true or false (YAML boolean), got {got}" in output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ("{max_samples: 1.5}", "split.max_samples must be int or null, got 1.5"),
        ("{max_samples: '10'}", "split.max_samples must be int or null, got the string '10'"),
    ],
)
def test_data_recipe_split_numbers_have_their_types(tmp_path: Path, split: str, message: str) -> None:
    code, output = run_data_recipe(tmp_path, f"steps: [prompt_id]\nsplit: {split}\n")
    assert code == 2, output
    assert message in output
    assert not (tmp_path / "out").exists()
