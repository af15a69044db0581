"""Binarize: rated completions to one preference pair per prompt (chosen, rejected), columnar.

Three methods, one per published variant:

* ``zephyr`` (the Zephyr paper): score = mean of the four aspect ratings ("N/A" left out); a completion with
  no rating or an empty response is ineligible; chosen = the best score (ties: the earliest); rejected = a
  uniform pick among the other eligible completions.
* ``argilla-clean``: as ``zephyr``, but rejected is picked among completions with a strictly lower score;
  rows without one are dropped (so there are no ties).
* ``h4-2023``: exactly the HuggingFaceH4/ultrafeedback_binarized revision that trained Zephyr-7B-beta:
  score = ``overall_score``; chosen = the first completion with the top score; rejected = Python's
  ``random.choice`` over all (overall_score, response, model) triples, redrawn while it equals the chosen
  triple, with ``random.seed(seed)`` before every row. The pick is therefore positional: it depends on the
  number of completions only. Known defects it reproduces: ``overall_score`` is the critique score, which
  disagrees with the fine-grained ratings on many rows; ties are kept; rejected is not random per prompt.

For ``zephyr`` and ``argilla-clean`` the pick depends only on (seed, prompt_id): a uniform number from
sha256, so it is the same whatever the row order, batch size or number of workers.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..messages import MESSAGES_TYPE, as_list_array, turn_positions
from ..presets import ASPECTS, PRESET_NOTES
from .base import Processor, StepStats, record_drops
from .prompt_id import prompt_id

H4_MAX_DRAWS = 1000


def uniform(seed: int, prompt_ids: list[str]) -> np.ndarray:
    """A number in [0, 1) per prompt, from sha256(seed, prompt_id): the same wherever the row is."""
    prefix = f"binarize\0{seed}\0".encode()
    bits = np.fromiter(
        (int.from_bytes(hashlib.sha256(prefix + p.encode("utf-8")).digest()[:8], "big") >> 11 for p in prompt_ids),
        dtype=np.uint64,
        count=len(prompt_ids),
    )
    return bits.astype(np.float64) * 2.0**-53


@lru_cache(maxsize=64)
def h4_draws(seed: int, n: int) -> np.ndarray:
    """The indices ``random.choice`` returns on a list of ``n`` items after ``random.seed(seed)``, in order."""
    rng = random.Random(seed)
    return np.array([rng.choice(range(n)) for _ in range(H4_MAX_DRAWS)], dtype=np.int64)


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
class Binarize(Processor):
    """Turn each prompt's rated completions into one (chosen, rejected) pair; see the module docstring."""

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

    method: Literal["zephyr", "argilla-clean", "h4-2023"] = "zephyr"
    ties: Literal["keep", "drop"] = "keep"
    seed: int = 42

    def card_notes(self, steps: Sequence[Processor]) -> tuple[str, ...]:
        notes = [f"Method `{self.method}`: {PRESET_NOTES[self.method]}"]
        if self.method == "h4-2023":
            notes.append(
                "`h4-2023` reproduces the published revision's defects on purpose (overall_score instead of the "
                "fine-grained ratings, ties, positional rejects): use it to reproduce or audit, not to train anew."
            )
        if self.method != "argilla-clean":
            notes.append(
                "UltraFeedback contains TruthfulQA prompts: evaluating on TruthfulQA after training on this data is "
                "contaminated (the `argilla-clean` preset removes them)."
            )
        return tuple(notes)

    def process(self, table: pa.Table, stats: StepStats) -> pa.Table:
        lists = as_list_array(table.column("completions"))
        flat = lists.flatten()
        parents, positions = turn_positions(lists)
        n = len(table)
        prompts = table.column("prompt").combine_chunks()
        ids = [prompt_id(p) for p in prompts.to_pylist()]

        if self.method == "h4-2023":
            scores = flat.field("overall_score").to_numpy(zero_copy_only=False).astype(np.float64)
            eligible = np.ones(len(flat), dtype=bool)
        else:
            ratings = (
                np.column_stack([flat.field(a).to_numpy(zero_copy_only=False).astype(np.float64) for a in ASPECTS])
                if len(flat)
                else np.zeros((0, 4))
            )
            rated = (~np.isnan(ratings)).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                scores = np.nansum(ratings, axis=1) / rated
            # A response of only whitespace is not eligible (utf8_is_space stops at the first other character).
            blank = pc.or_(
                pc.utf8_is_space(flat.field("response")), pc.equal(pc.binary_length(flat.field("response")), 0)
            )
            eligible = (rated > 0) & ~blank.to_numpy(zero_copy_only=False)

        chosen = _first_best(n, parents, positions, scores, eligible)
        reasons = np.full(n, None, dtype=object)
        few = np.bincount(parents[eligible], minlength=n) < 2
        reasons[few] = "fewer_than_2_completions" if self.method == "h4-2023" else "fewer_than_2_valid_completions"

        if self.method == "h4-2023":
            rejected = self._h4_rejected(lists, flat, parents, scores, chosen, reasons)
        else:
            best = _score_at(scores, chosen)
            candidates = eligible & (np.arange(len(flat)) != chosen[parents])
            if self.method == "argilla-clean":
                candidates &= scores < best[parents]
            rejected = _uniform_pick(n, parents, candidates, uniform(self.seed, ids))
            if self.method == "argilla-clean":
                reasons[(rejected < 0) & (reasons == None)] = "no_lower_scored_completion"  # noqa: E711

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

    def _h4_rejected(
        self,
        lists: pa.ListArray,
        flat: pa.StructArray,
        parents: np.ndarray,
        scores: np.ndarray,
        chosen: np.ndarray,
        reasons: np.ndarray,
    ) -> np.ndarray:
        """Replay the original loop: redraw while the drawn triple equals the chosen one."""
        n = len(lists)
        sizes = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
        starts = lists.offsets.to_numpy()[:-1] - lists.offsets[0].as_py()
        responses = np.asarray(flat.field("response").to_pylist(), dtype=object)
        models = np.asarray(flat.field("model").to_pylist(), dtype=object)

        def same_as_chosen(index: np.ndarray, rows: np.ndarray) -> np.ndarray:
            c = chosen[rows]
            return (scores[index] == scores[c]) & (responses[index] == responses[c]) & (models[index] == models[c])

        everything = np.arange(len(flat))
        identical = same_as_chosen(everything, parents) if len(flat) else np.zeros(0, dtype=bool)
        all_identical = np.bincount(parents[~identical], minlength=n) == 0
        reasons[all_identical & (reasons == None)] = "all_completions_identical"  # noqa: E711
        rejected = np.full(n, -1, dtype=np.int64)
        pending = np.flatnonzero(reasons == None)  # noqa: E711
        for draw in range(H4_MAX_DRAWS):
            if not len(pending):
                break
            picks = starts[pending] + np.array([h4_draws(self.seed, int(sizes[r]))[draw] for r in pending])
            done = ~same_as_chosen(picks, pending)
            rejected[pending[done]] = picks[done]
            pending = pending[~done]
        reasons[pending] = "all_completions_identical"
        return rejected


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
