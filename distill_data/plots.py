"""The plots of a dataset card, as PNG files under ``DIR/assets/`` (headless matplotlib).

Each plot is made from numbers computed first (kept in ``assets/plot_data.json`` too, so the figures can
be checked and reused), then drawn. PNGs carry no software metadata. Floats are rounded to six significant digits (see
:mod:`distill_data.numbers`) before they are written or drawn, so ``plot_data.json`` is the same on every machine;
the PNGs' pixels still depend on the matplotlib and FreeType versions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .dataset_folder import DatasetFolder
from .numbers import rounded, significant


def pyplot():
    """matplotlib's pyplot on the headless backend (its import takes about half a second: the builder starts it
    on a thread while rows are processed, so the card does not wait for it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _histogram(values: np.ndarray, bins: int | list[float]) -> dict[str, list[float]]:
    if not len(values):
        return {"edges": [], "counts": []}
    counts, edges = np.histogram(values, bins=bins)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def steps_data(provenance: dict[str, Any]) -> dict[str, Any]:
    steps = provenance["steps"]
    return {
        "steps": [s["name"] for s in steps],
        "kept": [s["rows_out"] for s in steps],
        "dropped": [s["rows_in"] - s["rows_out"] for s in steps],
    }


def sft_data(tables: Iterable[pa.Table]) -> dict[str, Any]:
    """Turns per dialogue and assistant response lengths (characters), one row group at a time."""
    import pyarrow.compute as pc

    from .messages import as_list_array

    turns_parts, length_parts = [], []
    for table in tables:
        lists = as_list_array(table.column("messages"))
        turns_parts.append(pc.list_value_length(lists).to_numpy(zero_copy_only=False))
        flat = lists.flatten()
        assistant = pc.equal(flat.field("role"), "assistant")
        length_parts.append(pc.utf8_length(flat.field("content").filter(assistant)).to_numpy(zero_copy_only=False))
    turns = np.concatenate(turns_parts) if turns_parts else np.zeros(0, dtype=np.int32)
    lengths = np.concatenate(length_parts) if length_parts else np.zeros(0, dtype=np.int32)
    top = int(turns.max()) if len(turns) else 1
    return {
        "turns_per_dialogue": _histogram(turns, [x - 0.5 for x in range(1, top + 2)]),
        "response_chars": _histogram(lengths, _log_bins(lengths)),
    }


PREFERENCE_COLUMNS = ("score_chosen", "score_rejected", "chosen_model", "rejected_model")


def preference_data(tables: Iterable[pa.Table]) -> dict[str, Any]:
    """Chosen and rejected scores, their margin, and how often each model is chosen and rejected."""
    parts = [t.select(list(PREFERENCE_COLUMNS)) for t in tables]
    if not parts:
        return {}
    table = pa.concat_tables(parts)
    chosen = table.column("score_chosen").to_numpy()
    rejected = table.column("score_rejected").to_numpy()
    low = float(np.floor(min(chosen.min(), rejected.min()))) if len(chosen) else 0.0
    high = float(np.ceil(max(chosen.max(), rejected.max()))) if len(chosen) else 1.0
    # Scores are means of 1..5 ratings (steps of 1/4 or 1/3) or critique scores: bins of 0.25 centred on them.
    bins = list(np.arange(low - 0.125, high + 0.25, 0.25))
    models: dict[str, list[int]] = {}
    for side, column in ((0, "chosen_model"), (1, "rejected_model")):
        for model in table.column(column).to_pylist():
            models.setdefault(model, [0, 0])[side] += 1
    ordered = sorted(models.items(), key=lambda item: (-item[1][0], item[0]))
    return {
        "score_chosen": _histogram(chosen, bins),
        "score_rejected": _histogram(rejected, bins),
        "margin": _histogram(chosen - rejected, 20),
        "models": {
            "names": [m for m, _ in ordered],
            "chosen": [c for _, (c, _) in ordered],
            "rejected": [r for _, (_, r) in ordered],
        },
    }


def _log_bins(values: np.ndarray) -> list[float]:
    """Rounded before counting (``np.logspace`` differs in the last bits between CPUs), so the counts are those
    of the edges written; the last edge stays above the longest value, which rounding down could leave out."""
    top = max(float(values.max()) if len(values) else 1.0, 10.0)
    edges = [significant(edge) for edge in np.logspace(0, np.log10(top + 1), 30).tolist()]
    edges[-1] = max(edges[-1], top + 1)
    return [0.0, *edges]


def write_plots(folder: Path, provenance: dict[str, Any], data: dict[str, Any]) -> dict[str, str]:
    """Draw every plot of ``data`` (from :func:`sft_data` or :func:`preference_data`) and the steps plot.

    Returns ``{file name: caption}`` in the order the card shows them.
    """
    plt = pyplot()
    assets = DatasetFolder(folder).assets
    assets.mkdir(parents=True, exist_ok=True)
    data = rounded({"steps": steps_data(provenance), **data})
    (assets / "plot_data.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    written: dict[str, str] = {}

    def save(fig, name: str, caption: str) -> None:
        fig.tight_layout()
        fig.savefig(assets / name, dpi=100, metadata={"Software": None})
        plt.close(fig)
        written[name] = caption

    steps = data["steps"]
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(steps["steps"])))
    y = np.arange(len(steps["steps"]))
    ax.barh(y, steps["kept"], color="#4c72b0", label="kept")
    ax.barh(y, steps["dropped"], left=steps["kept"], color="#dd8452", label="dropped")
    ax.set_yticks(y, steps["steps"])
    ax.invert_yaxis()
    ax.set_xlabel("rows")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    save(fig, "steps.png", "Rows kept and dropped by each step")

    if "turns_per_dialogue" in data:
        _bar_histogram(
            plt, data["turns_per_dialogue"], "turns per dialogue", save, "turns_per_dialogue.png", "Turns per dialogue"
        )
        _bar_histogram(
            plt,
            data["response_chars"],
            "assistant response length (characters)",
            save,
            "response_length.png",
            "Assistant response length",
            log_x=True,
        )
    if "score_chosen" in data:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for key, color in (("score_chosen", "#4c72b0"), ("score_rejected", "#dd8452")):
            hist = data[key]
            if hist["counts"]:
                ax.stairs(hist["counts"], hist["edges"], label=key.replace("score_", ""), color=color, linewidth=2)
        ax.set_xlabel("score")
        ax.set_ylabel("pairs")
        ax.legend()
        save(fig, "scores.png", "Chosen and rejected scores")
        _bar_histogram(plt, data["margin"], "score margin (chosen - rejected)", save, "margin.png", "Score margin")
        models = data["models"]
        fig, ax = plt.subplots(figsize=(7, 0.5 + 0.35 * max(len(models["names"]), 1)))
        y = np.arange(len(models["names"]))
        ax.barh(y - 0.2, models["chosen"], height=0.4, color="#4c72b0", label="chosen")
        ax.barh(y + 0.2, models["rejected"], height=0.4, color="#dd8452", label="rejected")
        ax.set_yticks(y, models["names"])
        ax.invert_yaxis()
        ax.set_xlabel("pairs")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
        save(fig, "models.png", "How often each model is chosen and rejected")
    return written


def _bar_histogram(
    plt, hist: dict[str, list[float]], xlabel: str, save, name: str, caption: str, log_x: bool = False
) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if hist["counts"]:
        ax.stairs(hist["counts"], hist["edges"], fill=True, color="#4c72b0")
    if log_x:
        ax.set_xscale("symlog")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("rows")
    save(fig, name, caption)
