"""Binarize: rated completions to one preference pair per prompt (chosen, rejected), columnar.

What every preset shares lives here: chosen = the eligible completion with the best score (the earliest on
ties), a row with under two eligible completions is dropped, ``ties="drop"`` drops pairs of equal scores, and
the output columns. How a preset scores and rejects is its own (:mod:`distill_data.presets`): the step calls its
scoring function on the flat completions and its rejection rule on a :class:`ScoredBatch`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa

from ..declared_types import check_value
from ..messages import MESSAGES_TYPE, as_list_array, turn_positions
from ..presets import DEFAULT_PRESET, PRESETS, TRUTHFULQA_NOTE, Preset
from .base import Processor, StepStats, record_drops
from .prompt_id import prompt_id


def uniform(seed: int, prompt_ids: list[str]) -> np.ndarray:
    """A number in [0, 1) per prompt, from sha256(seed, prompt_id): the same wherever the row is."""
    prefix = f"binarize\0{seed}\0".encode()
    bits = np.fromiter(
        (int.from_bytes(hashlib.sha256(prefix + p.encode("utf-8")).digest()[:8], "big") >> 11 for p in prompt_ids),
        dtype=np.uint64,
        count=len(prompt_ids),
    )
    return bits.astype(np.float64) * 2.0**-53


def pairs(prompts: pa.Array, chosen: pa.Array, rejected: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``[user prompt, assistant response]`` message lists for the chosen and the rejected responses."""
    n = len(prompts)
    offsets = pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32))
    roles = pa.array(np.tile(np.array(["user", "assistant"], dtype=object), n), pa.string())
    interleave = pa.array(np.column_stack([np.arange(n), np.arange(n) + n]).ravel())

    def build(responses: pa.Array) -> pa.Array:
        contents = pa.concat_arrays([prompts, responses]).take(interleave)
        return pa.ListArray.from_arrays(offsets, pa.StructArray.from_arrays([contents, roles], ["content", "role"]))

    return build(chosen).cast(MESSAGES_TYPE), build(rejected).cast(MESSAGES_TYPE)


@dataclass
class ScoredBatch:
    """One batch as a preset's rejection rule sees it: every completion scored, each row's chosen one, the drop
    reasons so far (a rule adds its own with :meth:`drop`)."""

    lists: pa.ListArray  # the completions of each row
    flat: pa.StructArray  # all completions of the batch, row after row; "flat index" below indexes these
    parents: np.ndarray  # flat index -> row
    scores: np.ndarray  # flat index -> score (NaN: none)
    eligible: np.ndarray  # flat index -> may be chosen or rejected
    chosen: np.ndarray  # row -> flat index of the chosen completion (-1: none)
    reasons: np.ndarray  # row -> why it is dropped (None: kept)
    prompt_ids: list[str]
    seed: int

    def chosen_scores(self) -> np.ndarray:
        """Per row, the chosen completion's score (NaN: none)."""
        return _score_at(self.scores, self.chosen)

    def uniform_pick(self, candidates: np.ndarray) -> np.ndarray:
        """Per row, one of its ``candidates`` (a flat mask), uniformly from (seed, prompt_id) only (-1: none)."""
        return _uniform_pick(len(self.lists), self.parents, candidates, uniform(self.seed, self.prompt_ids))

    def drop(self, rows: np.ndarray, reason: str) -> None:
        """Drop the ``rows`` (a row mask) that nothing dropped yet, for ``reason``."""
        self.reasons[rows & (self.reasons == None)] = reason  # noqa: E711


@dataclass
class Binarize(Processor):
    """Turn each prompt's rated completions into one (chosen, rejected) pair the way preset ``method`` says."""

    name: ClassVar[str] = "binarize"
    inputs: ClassVar[tuple[str, ...]] = ("prompt", "completions")
    outputs: ClassVar[tuple[str, ...]] = (
        "prompt_id",
        "chosen",
        "rejected",
        "messages",
        "score_chosen",
        "score_rejected",
        "chosen_model",
        "rejected_model",
    )

    removes: ClassVar[tuple[str, ...]] = ("completions",)

    method: str = DEFAULT_PRESET  # a name in distill_data.presets.PRESETS
    ties: Literal["keep", "drop"] = "keep"
    seed: int = 42

    def __post_init__(self) -> None:
        super().__post_init__()
        check_value(self.method, Literal[tuple(PRESETS)], "parameter 'method'")

    @property
    def preset(self) -> Preset:
        return PRESETS[self.method]

    def card_notes(self, steps: Sequence[Processor]) -> tuple[str, ...]:
        preset = self.preset
        notes = [f"Method `{preset.name}`: {preset.note}", *preset.caveats]
        if "truthful_qa" not in preset.removes_sources:
            notes.append(TRUTHFULQA_NOTE)
        return tuple(notes)

    def required_fields(self) -> frozenset[str]:
        return frozenset(self.preset.requires)

    def process(self, table: pa.Table, stats: StepStats) -> pa.Table:
        preset = self.preset
        lists = as_list_array(table.column("completions"))
        flat = lists.flatten()
        parents, positions = turn_positions(lists)
        n = len(table)
        prompts = table.column("prompt").combine_chunks()
        ids = [prompt_id(p) for p in prompts.to_pylist()]

        scores, eligible = preset.score(flat)
        chosen = _first_best(n, parents, positions, scores, eligible)
        reasons = np.full(n, None, dtype=object)
        reasons[np.bincount(parents[eligible], minlength=n) < 2] = preset.too_few
        rejected = preset.reject(ScoredBatch(lists, flat, parents, scores, eligible, chosen, reasons, ids, self.seed))

        score_chosen, score_rejected = _score_at(scores, chosen), _score_at(scores, rejected)
        if self.ties == "drop":
            reasons[(score_chosen == score_rejected) & (reasons == None)] = "tie"  # noqa: E711

        reason_array = pa.array(reasons, pa.string())
        record_drops(stats, table, reason_array, None)
        keep = np.flatnonzero(reasons == None)  # noqa: E711
        take = pa.array(keep)
        chosen_idx, rejected_idx = pa.array(chosen[keep]), pa.array(rejected[keep])
        kept_prompts = prompts.take(take)
        chosen_messages, rejected_messages = pairs(
            kept_prompts, flat.field("response").take(chosen_idx), flat.field("response").take(rejected_idx)
        )
        chosen_models, rejected_models = flat.field("model").take(chosen_idx), flat.field("model").take(rejected_idx)
        stats.tally("chosen_model", chosen_models)
        stats.tally("rejected_model", rejected_models)
        out = table.drop_columns(list(self.removes)).take(take)
        columns = {
            "prompt_id": pa.array([ids[i] for i in keep], pa.string()),
            "chosen": chosen_messages,
            "rejected": rejected_messages,
            "messages": chosen_messages,
            "score_chosen": pa.array(score_chosen[keep], pa.float64()),
            "score_rejected": pa.array(score_rejected[keep], pa.float64()),
            "chosen_model": chosen_models,
            "rejected_model": rejected_models,
        }
        for name, column in columns.items():
            index = out.schema.get_field_index(name)
            out = out.append_column(name, column) if index < 0 else out.set_column(index, name, column)
        return out


def _score_at(scores: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Per row, the score of the completion at flat ``index`` (NaN for -1, and for a batch with no completions)."""
    if not len(scores):
        return np.full(len(index), np.nan)
    return np.where(index >= 0, scores[np.maximum(index, 0)], np.nan)


def _first_best(
    n: int, parents: np.ndarray, positions: np.ndarray, scores: np.ndarray, eligible: np.ndarray
) -> np.ndarray:
    """Per row, the flat index of the eligible completion with the highest score, the earliest on ties (-1: none)."""
    index = np.flatnonzero(eligible)
    chosen = np.full(n, -1, dtype=np.int64)
    if not len(index):
        return chosen
    order = np.lexsort((positions[index], -scores[index], parents[index]))
    ordered = index[order]
    first = np.ones(len(ordered), dtype=bool)
    first[1:] = parents[ordered][1:] != parents[ordered][:-1]
    chosen[parents[ordered[first]]] = ordered[first]
    return chosen


def _uniform_pick(n: int, parents: np.ndarray, candidates: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per row, the k-th candidate in list order with k = floor(u * number of candidates) (-1: none)."""
    counts = np.bincount(parents[candidates], minlength=n)
    k = np.minimum((u * counts).astype(np.int64), np.maximum(counts - 1, 0))
    rank = np.cumsum(candidates) - 1  # running index among candidates, over all rows
    row_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    picked = candidates & (rank - row_start[parents] == k[parents])
    rejected = np.full(n, -1, dtype=np.int64)
    rejected[parents[picked]] = np.flatnonzero(picked)
    return rejected
