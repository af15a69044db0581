"""Principle-driven system prompts, as UltraFeedback used: each completion is asked to favour one principle.

UltraFeedback steered its generators with a system prompt that stressed one of helpfulness, honesty,
truthfulness or verbalized calibration, sampled per completion, so the completions of a prompt differ in
more than the model. These prompts are written for this project in that spirit (version ``v1``). The pick
is a seeded sha256 of (seed, model, prompt, sample index), so it does not depend on the order of work.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .seeds import unit

PRINCIPLES_VERSION = "v1"
NO_PRINCIPLE = "none"

PRINCIPLES: dict[str, tuple[str, ...]] = {
    "helpfulness": (
        "You are a helpful assistant. Answer what the user actually asked, completely and correctly, with the "
        "detail, steps or examples they need to act on it, and nothing they do not need.",
        "As an assistant, your aim is to be genuinely useful: understand the intent behind the request, give an "
        "accurate and well-organised answer, and make it engaging to read without padding it.",
        "You are an expert assistant. Give a thorough, accurate and practical answer; where a task has several "
        "parts, address each of them, and prefer concrete examples to generalities.",
    ),
    "honesty": (
        "You are an honest assistant. Say what you know, say clearly when you are unsure, and say \"I don't "
        'know" rather than guess; never invent sources, numbers or facts.',
        "As an assistant, be candid about the limits of your knowledge: separate what is established from what "
        "is your estimate, and point out when a question rests on a mistaken premise.",
    ),
    "truthfulness": (
        "You are a truthful assistant. Every factual statement you make must be accurate; do not introduce "
        "details that are not supported by the question or by well-established knowledge.",
        "As an assistant, stay factual: if the question contains a false assumption, correct it instead of "
        "answering as if it were true, and never fabricate details to seem more complete.",
    ),
    "verbalized_calibration": (
        "You are an assistant that states its confidence. After your answer, add a last line of the form "
        '"Confidence: N%", where N is how likely you think your answer is to be correct.',
    ),
}


@dataclass(frozen=True)
class PrincipleMix:
    """Which principles to sample and with what weight."""

    weights: tuple[tuple[str, float], ...]

    @classmethod
    def parse(cls, spec: str) -> PrincipleMix:
        """``helpfulness=4,honesty=2,truthfulness`` (a weight defaults to 1), or ``all`` for equal weights."""
        if spec.strip() == "all":
            return cls(tuple((name, 1.0) for name in PRINCIPLES))
        weights: dict[str, float] = {}
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            name, _, weight = part.partition("=")
            name = name.strip()
            if name not in PRINCIPLES:
                raise ConfigError(f"--principles: unknown principle {name!r}; known: {', '.join(PRINCIPLES)}, all")
            try:
                value = float(weight) if weight else 1.0
            except ValueError:
                raise ConfigError(f"--principles: weight of {name} must be a number, got {weight!r}") from None
            if not value > 0:
                raise ConfigError(f"--principles: weight of {name} must be positive, got {weight!r}")
            weights[name] = value
        if not weights:
            raise ConfigError("--principles: name at least one principle")
        return cls(tuple(weights.items()))

    def pick(self, seed: int, *parts: str) -> tuple[str, str]:
        """(principle, system prompt) for one completion identified by ``parts``."""
        total = sum(weight for _, weight in self.weights)
        point = unit(seed, "principle", *parts) * total
        principle = self.weights[-1][0]
        for name, weight in self.weights:
            if point < weight:
                principle = name
                break
            point -= weight
        variants = PRINCIPLES[principle]
        return principle, variants[int(unit(seed, "system-prompt", *parts) * len(variants))]

    def to_dict(self) -> dict[str, float]:
        return dict(self.weights)
