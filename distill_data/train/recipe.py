"""Training recipes: YAML that names the model, the data mixture, the chat template, TRL's config fields and an
optional peft section. Unknown keys are errors that name them; ``--set a.b=value`` overrides any field.

Every boolean and number is checked against the type its dataclass declares (ours, TRL's SFTConfig/DPOConfig,
peft's LoraConfig): YAML reads ``"false"`` as a string, and a non-empty string is truthy, so
``trust_remote_code: "false"`` would otherwise run code from the model folder.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..declared_types import check_library_fields, default_hints, field_hints
from ..errors import ConfigError
from ..recipe_yaml import load_yaml

Stage = Literal["sft", "dpo"]
_TOP = ("model", "datasets", "chat_template", "seed", "training", "peft", "quantization", "metrics_file", "push")
_MODEL = ("name_or_path", "revision", "dtype", "attn_implementation", "trust_remote_code", "init")
_INIT = ("architecture", "config", "tokenizer")
_DATASET = ("path", "split", "weight", "eval_split", "revision")
DTYPES = ("auto", "float32", "float16", "bfloat16")
# YAML 1.1 reads 1e-4 (no dot) as a string; such values are numbers in every recipe field we pass on.
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def _numbers(value: Any) -> Any:
    """``"1e-4"`` -> ``0.0001``, recursively; other values unchanged."""
    if isinstance(value, str) and _FLOAT.match(value):
        return float(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


@dataclass
class ModelSpec:
    """Which model to start from: a Hub id or a folder, or (``init``) a random one built from a config."""

    name_or_path: str | None = None
    revision: str | None = None
    dtype: str = "auto"
    attn_implementation: str | None = None
    trust_remote_code: bool = False
    init: dict[str, Any] | None = None


@dataclass
class DatasetSpec:
    """One dataset of the mixture: a folder written by distill-data or a Hub id, a split, a fraction of it."""

    path: str
    split: str
    weight: float = 1.0
    eval_split: str | None = None
    revision: str | None = None  # a Hub dataset's revision (branch, tag or commit), for reproducible runs


@dataclass
class PushSpec:
    """Where the trained model goes on the Hub. Declared for its field types; the recipe keeps ``push`` a mapping."""

    repo_id: str
    private: bool = False
    revision: str | None = None


_PUSH = tuple(f.name for f in dataclasses.fields(PushSpec))


@dataclass
class TrainRecipe:
    stage: Stage
    model: ModelSpec
    datasets: list[DatasetSpec]
    training: dict[str, Any]
    chat_template: str = "zephyr"
    seed: int = 42
    peft: dict[str, Any] | None = None
    quantization: dict[str, Any] | None = None
    metrics_file: str | None = None
    push: dict[str, Any] | None = None
    source: str = field(default="recipe", compare=False)

    @property
    def output_dir(self) -> Path:
        return Path(self.training["output_dir"])


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["training.learning_rate=1e-4", "model.name_or_path=out/sft"]`` applied to a parsed recipe."""
    data = copy.deepcopy(data)
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {override!r}: expected KEY=VALUE, e.g. training.learning_rate=1e-4")
        value = load_yaml(raw) if raw else None
        target = data
        parts = key.split(".")
        for part in parts[:-1]:
            if part.isdigit() and isinstance(target, list):
                target = target[int(part)]
                continue
            target = target.setdefault(part, {})
            if not isinstance(target, (dict, list)):
                raise ConfigError(f"--set {override!r}: '{part}' is not a section")
        last = parts[-1]
        if isinstance(target, list) and last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
    return data


def load_train_recipe(path: str | Path, stage: Stage, overrides: list[str] | tuple[str, ...] = ()) -> TrainRecipe:
    path = Path(path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read recipe: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    return parse_train_recipe(apply_overrides(data or {}, overrides), stage, str(path))


def parse_train_recipe(data: Any, stage: Stage, where: str = "recipe") -> TrainRecipe:
    """Check every key and build the recipe; TRL's fields are checked against SFTConfig or DPOConfig."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level")
    data = _numbers(data)
    _known(data, _TOP, where)
    check_library_fields(data, field_hints(TrainRecipe), f"{where}: ")
    model = data.get("model")
    if not isinstance(model, dict):
        raise ConfigError(f"{where}: 'model' must be a mapping with name_or_path (or init)")
    _known(model, _MODEL, f"{where}: model")
    check_library_fields(model, field_hints(ModelSpec), f"{where}: model.")
    if model.get("dtype", "auto") not in DTYPES:
        raise ConfigError(f"{where}: model.dtype must be one of {', '.join(DTYPES)}, got {model['dtype']!r}")
    if model.get("init") is not None:
        if not isinstance(model["init"], dict):
            raise ConfigError(f"{where}: model.init must be a mapping")
        _known(model["init"], _INIT, f"{where}: model.init")
    elif not model.get("name_or_path"):
        raise ConfigError(f"{where}: model.name_or_path is required (or model.init for a random model)")
    raw_datasets = data.get("datasets")
    if not isinstance(raw_datasets, list) or not raw_datasets:
        raise ConfigError(f"{where}: 'datasets' must be a non-empty list of {{path, split, weight}}")
    datasets = []
    for i, entry in enumerate(raw_datasets):
        if not isinstance(entry, dict) or "path" not in entry or "split" not in entry:
            raise ConfigError(f"{where}: datasets[{i}] needs 'path' and 'split'")
        _known(entry, _DATASET, f"{where}: datasets[{i}]")
        check_library_fields(entry, field_hints(DatasetSpec), f"{where}: datasets[{i}].")
        weight = entry.get("weight", 1.0)
        if not isinstance(weight, (int, float)) or not 0 < weight <= 1:
            raise ConfigError(f"{where}: datasets[{i}].weight must be a fraction in (0, 1], got {weight!r}")
        datasets.append(DatasetSpec(**entry))
    training = data.get("training") or {}
    if not isinstance(training, dict) or "output_dir" not in training:
        raise ConfigError(f"{where}: 'training' must be a mapping of TRL config fields including output_dir")
    _known(training, _trl_fields(stage), f"{where}: training ({'SFTConfig' if stage == 'sft' else 'DPOConfig'})")
    check_library_fields(training, field_hints(_trl_config(stage)), f"{where}: training.")
    for section in ("peft", "quantization", "push"):
        if data.get(section) is not None and not isinstance(data[section], dict):
            raise ConfigError(f"{where}: '{section}' must be a mapping")
    if data.get("push"):
        _known(data["push"], _PUSH, f"{where}: push")
        check_library_fields(data["push"], field_hints(PushSpec), f"{where}: push.")
        if not data["push"].get("repo_id"):
            raise ConfigError(f"{where}: push.repo_id is required when push is set")
    if data.get("peft"):
        _check_peft(data["peft"], where)
    if data.get("quantization"):
        check_library_fields(data["quantization"], _bnb_hints(), f"{where}: quantization.")
    return TrainRecipe(
        stage=stage,
        model=ModelSpec(**model),
        datasets=datasets,
        training=dict(training),
        chat_template=data.get("chat_template", "zephyr"),
        seed=int(data.get("seed", 42)),
        peft=data.get("peft"),
        quantization=data.get("quantization"),
        metrics_file=data.get("metrics_file"),
        push=data.get("push"),
        source=where,
    )


def _known(section: dict[str, Any], allowed: tuple[str, ...] | set[str], where: str) -> None:
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        hint = "" if len(allowed) > 20 else f"; expected one of: {', '.join(allowed)}"
        raise ConfigError(f"{where}: unknown key {', '.join(map(repr, unknown))}{hint}")


def _trl_config(stage: Stage) -> type:
    from trl import DPOConfig, SFTConfig

    return SFTConfig if stage == "sft" else DPOConfig


def _trl_fields(stage: Stage) -> set[str]:
    return {f.name for f in dataclasses.fields(_trl_config(stage)) if f.init}


def _check_peft(peft: dict[str, Any], where: str) -> None:
    from peft import LoraConfig

    allowed = {f.name for f in dataclasses.fields(LoraConfig) if f.init}
    _known(peft, allowed, f"{where}: peft (LoraConfig)")
    check_library_fields(peft, field_hints(LoraConfig), f"{where}: peft.")


@functools.cache
def _bnb_hints() -> dict[str, Any]:
    """BitsAndBytesConfig's parameters are not annotated: a boolean or number default declares the type."""
    from transformers import BitsAndBytesConfig

    return default_hints(BitsAndBytesConfig.__init__)
