"""The UltraFeedback binarization presets: their names and what each does, as data.

Kept free of heavy imports: the CLI offers the names (``--preset``) before it imports the pipeline, and the
card quotes the notes.
"""

from __future__ import annotations

# The four fine-grained ratings UltraFeedback gives each completion (the zephyr preset scores by their mean).
ASPECTS = ("helpfulness", "honesty", "instruction_following", "truthfulness")

PRESET_NOTES = {
    "zephyr": "score = mean of the four aspect ratings; rejected = a seeded uniform pick among the other "
    "eligible completions (the Zephyr paper's method).",
    "h4-2023": "reproduces the HuggingFaceH4/ultrafeedback_binarized revision that trained Zephyr-7B-beta: "
    "score = overall_score (the critique score, which disagrees with the fine-grained ratings on many rows); "
    "ties kept; rejected drawn with random.choice re-seeded before every row, so it depends on the position "
    "only.",
    "argilla-clean": "score = mean rating; rejected among strictly lower-scored completions (no ties); "
    "TruthfulQA prompts removed (benchmark contamination).",
}
PRESETS = tuple(PRESET_NOTES)
