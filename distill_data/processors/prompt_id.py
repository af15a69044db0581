"""PromptId: the ``prompt`` and ``prompt_id`` columns of the published H4 datasets."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from ..messages import first_turn_with_role
from .base import Processor, StepStats


def prompt_id(prompt: str) -> str:
    """sha256 hex digest of the prompt's UTF-8 bytes, as in HuggingFaceH4/ultrachat_200k."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()


@dataclass
class PromptId(Processor):
    """``prompt`` = the first user turn; ``prompt_id`` = :func:`prompt_id` of it (null when no user turn)."""

    name: ClassVar[str] = "prompt_id"
    inputs: ClassVar[tuple[str, ...]] = ("messages",)
    outputs: ClassVar[tuple[str, ...]] = ("prompt", "prompt_id")

    def process(self, table: pa.Table, stats: StepStats) -> pa.Table:
        prompts = first_turn_with_role(table.column("messages"), "user")
        ids = pa.array([None if p is None else prompt_id(p) for p in prompts.to_pylist()], pa.string())
        for name, column in (("prompt", prompts), ("prompt_id", ids)):
            index = table.schema.get_field_index(name)
            table = table.append_column(name, column) if index < 0 else table.set_column(index, name, column)
        return table
