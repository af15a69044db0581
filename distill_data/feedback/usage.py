"""Requests, cache hits and tokens per model, and what they cost at the prices the user gives.

Two token counts are kept: those of every answer in the dataset (cached or not: what the data cost to make)
and those of the requests this run sent (what this run cost). A rerun from the cache costs nothing.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError

_PRICE = re.compile(r"(?P<model>.+)=(?P<input>\d+(?:\.\d*)?)/(?P<output>\d+(?:\.\d*)?)")


@dataclass(frozen=True)
class Price:
    """US dollars per million input and output tokens."""

    per_million_in: float
    per_million_out: float

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return round((tokens_in * self.per_million_in + tokens_out * self.per_million_out) / 1e6, 6)


def parse_price(spec: str) -> tuple[str, Price]:
    """``MODEL=IN/OUT`` (dollars per million tokens) -> (model, price)."""
    match = _PRICE.fullmatch(spec.strip())
    if match is None:
        raise ConfigError(f"--price {spec!r}: expected MODEL=IN/OUT in dollars per million tokens, e.g. gpt-4o=2.5/10")
    return match["model"], Price(float(match["input"]), float(match["output"]))


@dataclass
class ModelUsage:
    """One model's counters."""

    requests: int = 0  # HTTP requests sent by this run, retries included
    retries: int = 0  # of which were retries (429, 5xx, timeouts, transport errors, malformed replies)
    cache_hits: int = 0  # answers taken from the cache (or from an identical request in flight)
    answers: int = 0  # answers used
    failed: int = 0  # requests that still failed after their retries
    tokens_in: int = 0  # of the answers used
    tokens_out: int = 0
    billed_tokens_in: int = 0  # of the requests this run sent
    billed_tokens_out: int = 0


@dataclass
class Ledger:
    """Counters per model name, in the order models were first seen."""

    prices: dict[str, Price] = field(default_factory=dict)
    models: dict[str, ModelUsage] = field(default_factory=dict)

    def __getitem__(self, model: str) -> ModelUsage:
        if model not in self.models:
            self.models[model] = ModelUsage()
        return self.models[model]

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for model, usage in self.models.items():
            entry: dict[str, Any] = asdict(usage)
            price = self.prices.get(model)
            if price is not None:
                entry["price_per_million"] = {"input": price.per_million_in, "output": price.per_million_out}
                entry["cost_usd"] = price.cost(usage.tokens_in, usage.tokens_out)
                entry["cost_usd_this_run"] = price.cost(usage.billed_tokens_in, usage.billed_tokens_out)
            record[model] = entry
        return record
