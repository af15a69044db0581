"""``generate``: one completion from each model (``n_per_model`` of them) for every prompt.

Rows come out in the raw UltraFeedback schema (``instruction``, ``source``, ``models``, ``completions`` of
``model``, ``response``, ``custom_system_prompt``, ``principle``) ready for ``rate``. Every request carries a
seed derived from (seed, model, prompt, sample), so a server that honours seeds gives the same completions
again, in any order of work; with ``principles`` each completion gets a seeded principle system prompt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from .client import ChatClient, RequestFailed
from .endpoint import Endpoint
from .principles import NO_PRINCIPLE, PRINCIPLES_VERSION, PrincipleMix
from .records import Completion, Prompt, Rows, prompt_reader
from .runner import Failures, FeedbackResult, Job, RunOptions, run_job
from .seeds import request_seed
from .usage import Ledger

COMPLETION_TYPE = pa.struct(
    [(name, pa.string()) for name in ("model", "response", "custom_system_prompt", "principle")]
)
SCHEMA = pa.schema(
    [
        ("instruction", pa.string()),
        ("source", pa.string()),
        ("models", pa.list_(pa.string())),
        ("completions", pa.list_(COMPLETION_TYPE)),
    ]
)


@dataclass(frozen=True)
class GenerationParams:
    """What every generation request asks for."""

    n_per_model: int = 1
    temperature: float = 1.0
    top_p: float | None = None
    max_tokens: int = 1024
    seed: int = 42
    principles: PrincipleMix | None = None

    def request(self, endpoint: Endpoint, instruction: str, sample: int) -> tuple[dict[str, Any], Completion]:
        """The request body for one completion, and the completion's metadata (response still empty)."""
        parts = (endpoint.name, instruction, str(sample))
        principle, system = self.principles.pick(self.seed, *parts) if self.principles else (NO_PRINCIPLE, "")
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": instruction})
        body: dict[str, Any] = {
            "model": endpoint.name,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": request_seed(self.seed, "generate", *parts),
        }
        if self.top_p is not None:
            body["top_p"] = self.top_p
        return body, Completion(endpoint.name, "", system, principle)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_per_model": self.n_per_model,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "principles": self.principles.to_dict() if self.principles else None,
            "principles_version": PRINCIPLES_VERSION if self.principles else None,
        }


def generate(
    prompts: Sequence[str],
    models: Sequence[Endpoint],
    output: str | Path,
    *,
    field: str | None = None,
    params: GenerationParams | None = None,
    options: RunOptions | None = None,
    ledger: Ledger | None = None,
) -> FeedbackResult:
    """Ask every model for completions of every prompt in ``prompts`` (files, folders, Hub ids); write ``output``."""
    params = params or GenerationParams()
    options = options or RunOptions()
    ledger = ledger or Ledger(prices=dict(options.prices))
    rows: Rows[Prompt] = Rows(prompts, prompt_reader(field), options.on_error)
    failures = Failures()
    empty_rows = 0

    async def one(client: ChatClient, endpoint: Endpoint, prompt: Prompt, sample: int) -> Completion | None:
        body, completion = params.request(endpoint, prompt.instruction, sample)
        try:
            answer = await client.complete(endpoint, body)
        except RequestFailed as failure:
            if options.on_error == "fail":
                raise
            failures.add(str(failure))
            return None
        return Completion(completion.model, answer.content, completion.custom_system_prompt, completion.principle)

    async def work(client: ChatClient, prompt: Prompt) -> dict[str, Any] | None:
        nonlocal empty_rows
        asked = [one(client, e, prompt, sample) for e in models for sample in range(params.n_per_model)]
        completions = [c for c in await asyncio.gather(*asked) if c is not None]
        if not completions:
            empty_rows += 1
            return None
        return {
            "instruction": prompt.instruction,
            "source": prompt.source,
            "models": [c.model for c in completions],
            "completions": [c.to_dict() for c in completions],
        }

    def record() -> dict[str, Any]:
        return {
            "field": field,
            "models": [endpoint.describe() for endpoint in models],
            "params": params.to_dict(),
            "failures": failures.to_dict(),
            "rows_without_completions": empty_rows,
        }

    from .card import write_feedback_card

    job = Job("generate", rows, SCHEMA, work, record, write_feedback_card, failures)
    return run_job(job, Path(output), options, ledger)
