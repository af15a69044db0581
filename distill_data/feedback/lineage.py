"""What a dataset folder says about how it was made, so each step can name the models behind its input.

``rate`` records the ``generate`` run it read, and ``binarize`` records the ``rate`` run it read: its card then
names the generators and the judge. A folder counts when the input file sits in ``FOLDER/data/`` beside a
``FOLDER/provenance.json``, the layout this toolkit writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..dataset_folder import DatasetFolder


def folder_provenance(path: Path, command: str) -> dict[str, Any] | None:
    """The provenance of ``path``'s dataset folder when that folder was written by ``command``."""
    folder = DatasetFolder.of_data_file(path)
    if folder is None:
        return None
    try:
        record = json.loads(folder.provenance.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("command") == command else None


def feedback_summary(path: Path) -> dict[str, Any] | None:
    """For a file written by ``distill-data rate``: its generators, judge, aspects and rubric version."""
    record = folder_provenance(path, "rate")
    if record is None:
        return None
    return {
        "generators": record.get("generators", []),
        "judge": record.get("judge", {}).get("name"),
        "aspects": record.get("params", {}).get("aspects", []),
        "rubric_version": record.get("rubrics", {}).get("version"),
        "unparsed_ratings": sum(entry.get("failed", 0) for entry in record.get("parse", {}).values()),
    }


def feedback_section(inputs: list[dict[str, Any]]) -> str | None:
    """The card's "AI feedback" section for inputs that carry a ``feedback`` summary, else None."""
    lines = []
    for entry in inputs:
        summary = entry.get("feedback")
        if not summary:
            continue
        generators = ", ".join(f"`{name}`" for name in summary["generators"]) or "(none)"
        aspects = ", ".join(summary["aspects"])
        lines.append(
            f"- `{Path(entry.get('path', '?')).name}`: completions by {generators}; rated by `{summary['judge']}` "
            f"on {aspects} (distill-data rubrics {summary['rubric_version']}; "
            f"{summary['unparsed_ratings']:,} judge answers left unparsed and rated N/A)."
        )
    if not lines:
        return None
    return (
        "The completions and ratings were made by `distill-data generate` and `distill-data rate` (AI feedback in "
        "the manner of UltraFeedback):\n\n" + "\n".join(lines)
    )
