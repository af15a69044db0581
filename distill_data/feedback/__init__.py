"""AI feedback: ``generate`` completions from several models and have a judge ``rate`` them, as UltraFeedback did.

Both talk to OpenAI-compatible chat-completions endpoints (vLLM, TGI, ``transformers serve``, hosted APIs)
and write rows in the raw UltraFeedback schema, so ``distill-data binarize`` reads the result directly. The
names below are imported on first use, so the dataset cards can read :mod:`.lineage` without the client.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Endpoint": "endpoint",
    "parse_endpoint": "endpoint",
    "GenerationParams": "generation",
    "generate": "generation",
    "PrincipleMix": "principles",
    "RatingParams": "rating",
    "rate": "rating",
    "FeedbackResult": "runner",
    "RunOptions": "runner",
    "RetryPolicy": "client",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'distill_data.feedback' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
