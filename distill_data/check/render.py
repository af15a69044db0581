"""Tokenize conversations the way TRL 1.x's SFTTrainer and DPOTrainer do, and what the tokenizer adds on its own.

TRL tokenizes conversational data with ``tokenizer.apply_chat_template(conversation, tokenize=True,
return_dict=True)``: the template is rendered and the text tokenized *without* the tokenizer's special tokens, so
the template alone decides BOS and EOS (``return_assistant_tokens_mask=True`` adds the ``{% generation %}`` mask
for ``assistant_only_loss``). We make the same call, a batch of conversations at a time (the same ids, tokenized in
parallel). Whatever tokenizes the rendered *text* with the tokenizer's defaults (``tokenizer(text)``: text-based
training scripts, evaluation and generation servers) also gets the BOS/EOS the tokenizer adds, so that is measured
once per tokenizer (``adds_bos``, ``adds_eos``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..sources.hub_ids import hub_unreachable, looks_like_hub_id, offline_failure

Conversation = list[dict[str, Any]]

# Tokens that close a turn in the common template families (besides the tokenizer's eos_token).
END_OF_TURN_TOKENS = (
    "</s>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<|END_OF_TURN_TOKEN|>",
)
GENERATION_MARKER = re.compile(r"\{%-?\s*generation\s*-?%\}")


def load_tokenizer(name_or_path: str | Path) -> Any:
    """A tokenizer from a folder or a Hub id; a clear error when there is none."""
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise ConfigError("distill-data check needs transformers: pip install 'distill-data[train]'") from None
    text = str(name_or_path)
    if not Path(text).exists():
        if not looks_like_hub_id(text, split=False, bare=True):
            raise ConfigError(f"--tokenizer {text}: no such folder (and not a Hub id)")
        unreachable = hub_unreachable(text, "model")
        if unreachable is not None:
            raise ConfigError(f"--tokenizer {text}: {unreachable}")
    try:
        return AutoTokenizer.from_pretrained(text)
    except (OSError, ValueError, TypeError) as exc:
        reason = offline_failure(exc) or f"cannot load a tokenizer: {exc}"
        raise ConfigError(f"--tokenizer {name_or_path}: {reason}") from None


def resolve_template(template: str) -> str:
    """A template name (``zephyr``, the trainer's default), a Jinja file or a Jinja template string."""
    from ..train.chat_template import TEMPLATES

    if template in TEMPLATES:
        return TEMPLATES[template]
    if "{{" in template or "{%" in template:
        return template
    path = Path(template)
    if path.is_file():
        return path.read_text(encoding="utf-8")
    raise ConfigError(
        f"--chat-template {template}: neither a template name ({', '.join(TEMPLATES)}), a file nor a Jinja template"
    )


@dataclass(frozen=True)
class Encoded:
    """One tokenized conversation (``error`` says why the template could not render it)."""

    ids: list[int]
    mask: list[int] | None = None
    error: str | None = None


class Renderer:
    """A tokenizer and chat template, and the facts about them that the checks need."""

    def __init__(self, tokenizer: Any, chat_template: str | None = None, *, name: str = "the tokenizer") -> None:
        template = chat_template if chat_template is not None else tokenizer.chat_template
        if isinstance(template, dict):  # named templates: the trainer uses the default one
            template = template.get("default")
        if not template:
            raise ConfigError(
                f"{name} has no chat template: pass --chat-template zephyr (the trainer's default) or a Jinja file"
            )
        self.tokenizer = tokenizer
        self.template: str = template
        self.bos_id: int | None = tokenizer.bos_token_id
        self.eos_id: int | None = tokenizer.eos_token_id
        vocab = tokenizer.get_vocab()
        self.end_ids = frozenset(
            {vocab[t] for t in END_OF_TURN_TOKENS if t in vocab} | ({self.eos_id} if self.eos_id is not None else set())
        )
        plain = tokenizer("a")["input_ids"]
        self.adds_bos = self.bos_id is not None and plain[:1] == [self.bos_id]
        self.adds_eos = self.eos_id is not None and plain[-1:] == [self.eos_id]
        self.generation_markers = bool(GENERATION_MARKER.search(template))
        self._special = set(tokenizer.all_special_ids)
        self._filler: dict[int, bool] = {}

    def facts(self) -> dict[str, Any]:
        """What the report shows about the tokenizer."""
        tokenizer = self.tokenizer
        return {
            "bos_token": tokenizer.bos_token,
            "eos_token": tokenizer.eos_token,
            "end_of_turn_tokens": sorted(tokenizer.convert_ids_to_tokens(sorted(self.end_ids))),
            "tokenizer_adds_bos": self.adds_bos,
            "tokenizer_adds_eos": self.adds_eos,
            "generation_markers": self.generation_markers,
            "model_max_length": tokenizer.model_max_length if tokenizer.model_max_length < 10**9 else None,
        }

    def encode(
        self, conversations: list[Conversation], *, add_generation_prompt: bool = False, assistant_mask: bool = False
    ) -> list[Encoded]:
        """``apply_chat_template`` as TRL calls it, for a batch; a row it cannot render gets its own error."""
        if not conversations:
            return []
        kwargs = {
            "chat_template": self.template,
            "tokenize": True,
            "return_dict": True,
            "add_generation_prompt": add_generation_prompt,
            "return_assistant_tokens_mask": assistant_mask,
        }
        try:
            out = self.tokenizer.apply_chat_template(conversations, **kwargs)
        except Exception:  # one bad row fails the batch: find it
            return [self._encode_one(conversation, kwargs) for conversation in conversations]
        masks = out["assistant_masks"] if assistant_mask else [None] * len(conversations)
        return [Encoded(list(ids), mask) for ids, mask in zip(out["input_ids"], masks, strict=True)]

    def _encode_one(self, conversation: Conversation, kwargs: dict[str, Any]) -> Encoded:
        try:
            out = self.tokenizer.apply_chat_template(conversation, **kwargs)
        except Exception as exc:  # jinja2's TemplateError, raise_exception() in templates, bad messages...
            return Encoded([], None, f"{type(exc).__name__}: {exc}")
        return Encoded(list(out["input_ids"]), out.get("assistant_masks"))

    def is_filler(self, token_id: int) -> bool:
        """A whitespace-only token that is not special (the newline a template writes after a turn)."""
        if token_id not in self._filler:
            text = self.tokenizer.decode([token_id])
            self._filler[token_id] = token_id not in self._special and not text.strip()
        return self._filler[token_id]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids)

    def token(self, token_id: int | None) -> str:
        return "" if token_id is None else str(self.tokenizer.convert_ids_to_tokens(token_id))
