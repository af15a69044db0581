"""AI feedback: ``generate`` completions from several models and have a judge ``rate`` them, as UltraFeedback did.

Both talk to OpenAI-compatible chat-completions endpoints (vLLM, TGI, ``transformers serve``, hosted APIs)
and write rows in the raw UltraFeedback schema, so ``distill-data binarize`` reads the result directly. The
names below are imported on first use, so the dataset cards can read :mod:`.lineage` without the client.
"""

from __future__ import annotations

from ..lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
