"""The model and tokenizer a recipe starts from: pretrained (a Hub id or a folder) or random from a config.

A random model (``model.init``, used by the smoke recipes) gets a byte-level BPE tokenizer trained on the
recipe's own data, so nothing is downloaded. Either way the tokenizer gets the recipe's chat template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError, DistillDataError
from ..sources.hub_ids import OFFLINE_MISS, hub_unreachable, looks_like_hub_id
from .chat_template import ZEPHYR_SPECIAL_TOKENS, resolve
from .recipe import ModelSpec

SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}


def train_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """A byte-level BPE tokenizer trained on ``texts``, with Mistral-style special tokens and Zephyr's."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    special = [*SPECIAL_TOKENS.values(), *ZEPHYR_SPECIAL_TOKENS]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    core.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core, additional_special_tokens=list(ZEPHYR_SPECIAL_TOKENS), **SPECIAL_TOKENS
    )


def check_reachable(spec: ModelSpec) -> None:
    """A Hub model that the Hub cannot give (offline and not cached, or no network) fails at once, before the data
    is read, not after a minute of retries."""
    from huggingface_hub import constants, try_to_load_from_cache

    name_or_path = str(spec.name_or_path)
    hub_id = looks_like_hub_id(name_or_path, split=False, bare=True)
    if spec.init is not None or Path(name_or_path).exists() or not hub_id:
        return  # a folder, or a missing one: loading names it, after the data is checked
    unreachable = hub_unreachable(name_or_path, "model")
    if unreachable is None and constants.HF_HUB_OFFLINE:
        cached = try_to_load_from_cache(name_or_path, "config.json", revision=spec.revision)
        if not isinstance(cached, str):
            unreachable = OFFLINE_MISS
    if unreachable is not None:
        raise DistillDataError(f"model.name_or_path {name_or_path}: {unreachable}")


def load_tokenizer(spec: ModelSpec, chat_template: str, texts: list[str] | None = None) -> Any:
    from transformers import AutoTokenizer

    if spec.init is not None:
        settings = spec.init.get("tokenizer") or {}
        tokenizer = train_tokenizer(texts or [], int(settings.get("vocab_size", 1024)))
    else:
        tokenizer = AutoTokenizer.from_pretrained(
            spec.name_or_path, revision=spec.revision, trust_remote_code=spec.trust_remote_code
        )
    tokenizer.chat_template = resolve(chat_template)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    return tokenizer


def load_model(spec: ModelSpec, tokenizer: Any, seed: int, quantization: dict[str, Any] | None = None) -> Any:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    dtype = spec.dtype if spec.dtype == "auto" else getattr(torch, spec.dtype)
    if spec.init is not None:
        architecture = spec.init.get("architecture", "mistral")
        settings = dict(spec.init.get("config") or {})
        try:
            config = AutoConfig.for_model(
                architecture,
                vocab_size=len(tokenizer),
                bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
                **settings,
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"model.init: cannot build a {architecture!r} config: {exc}") from None
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=None if dtype == "auto" else dtype)
        if spec.attn_implementation:
            model.config._attn_implementation = spec.attn_implementation
        return model
    kwargs: dict[str, Any] = {
        "revision": spec.revision,
        "dtype": dtype,
        "trust_remote_code": spec.trust_remote_code,
    }
    if spec.attn_implementation:
        kwargs["attn_implementation"] = spec.attn_implementation
    if quantization:
        from transformers import BitsAndBytesConfig

        settings = dict(quantization)
        if isinstance(settings.get("bnb_4bit_compute_dtype"), str):
            settings["bnb_4bit_compute_dtype"] = getattr(torch, settings["bnb_4bit_compute_dtype"])
        kwargs["quantization_config"] = BitsAndBytesConfig(**settings)
        # Under `accelerate launch`, each process keeps its 4-bit model on its own GPU (not all on cuda:0).
        from accelerate import PartialState

        kwargs["device_map"] = {"": PartialState().local_process_index}
    return AutoModelForCausalLM.from_pretrained(spec.name_or_path, **kwargs)
