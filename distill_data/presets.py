"""The UltraFeedback binarization presets, each one value: how it scores, how it rejects, what it removes, what the
card and the CLI say about it. A new preset is one more ``Preset(...)`` in :data:`PRESETS`; nothing else in the
package knows a preset by its name.

The binarize step (:mod:`distill_data.processors.binarize`) does what all presets share: chosen = the eligible
completion with the best score (the earliest on ties), drop reasons, the output columns. A preset brings the rest:

* ``score``: per completion, a score and whether it may be chosen or rejected at all;
* ``reject``: per row, which completion is rejected; whether it may score the same as the chosen one (a tie) is
  the rule's to say (``UniformReject(allow_ties=False)`` never pairs equal scores);
* ``removes_sources``: UltraFeedback ``source`` values whose prompts are removed before binarizing;
* ``requires``: optional completion fields every input row must then have (the reader refuses a row without);
* ``note``/``caveats``: the card's lines about the method; ``help``: its phrase in ``--preset``'s help.

The CLI imports this module to offer ``--preset``, and ``--help`` must import nothing heavy: so the rules import
numpy and pyarrow inside their bodies, which run only when a batch is binarized.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from .processors.binarize import ScoredBatch

# The four fine-grained ratings UltraFeedback gives each completion (the zephyr preset scores by their mean).
ASPECTS = ("helpfulness", "honesty", "instruction_following", "truthfulness")

Scorer = Callable[["pa.StructArray"], tuple["np.ndarray", "np.ndarray"]]
"""Flat completions (model, response, the aspects, overall_score) -> (score, eligible), one of each per completion."""
RejectRule = Callable[["ScoredBatch"], "np.ndarray"]
"""A scored batch -> per row, the flat index of the rejected completion (-1: none; the rule says why in reasons)."""


@dataclass(frozen=True)
class Preset:
    """Everything that makes one binarization method differ from another; see the module docstring."""

    name: str
    score: Scorer
    reject: RejectRule
    note: str
    help: str
    caveats: tuple[str, ...] = ()
    removes_sources: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    too_few: str = "fewer_than_2_valid_completions"  # why a row with under two eligible completions is dropped


# Scoring functions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeanRating:
    """score = mean of the aspect ratings ("N/A" left out); no rating, or a blank response: not eligible."""

    aspects: tuple[str, ...] = ASPECTS

    def __call__(self, flat: pa.StructArray) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np
        import pyarrow.compute as pc

        ratings = (
            np.column_stack([flat.field(a).to_numpy(zero_copy_only=False).astype(np.float64) for a in self.aspects])
            if len(flat)
            else np.zeros((0, len(self.aspects)))
        )
        rated = (~np.isnan(ratings)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            scores = np.nansum(ratings, axis=1) / rated
        # A response of only whitespace is not eligible (utf8_is_space stops at the first other character).
        response = flat.field("response")
        blank = pc.or_(pc.utf8_is_space(response), pc.equal(pc.binary_length(response), 0))
        return scores, (rated > 0) & ~blank.to_numpy(zero_copy_only=False)


@dataclass(frozen=True)
class FieldScore:
    """score = one numeric field of the completion as it is; every completion is eligible."""

    field: str = "overall_score"

    def __call__(self, flat: pa.StructArray) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        scores = flat.field(self.field).to_numpy(zero_copy_only=False).astype(np.float64)
        return scores, np.ones(len(flat), dtype=bool)


# Rejection rules --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UniformReject:
    """rejected = a uniform pick among the other eligible completions, from (seed, prompt_id) only, so the same
    whatever the row order, batch size or number of workers. Without ties: only among strictly lower scores, and a
    row with none is dropped."""

    allow_ties: bool = True

    def __call__(self, batch: ScoredBatch) -> np.ndarray:
        import numpy as np

        candidates = batch.eligible & (np.arange(len(batch.scores)) != batch.chosen[batch.parents])
        if not self.allow_ties:
            candidates &= batch.scores < batch.chosen_scores()[batch.parents]
        rejected = batch.uniform_pick(candidates)
        if not self.allow_ties:
            batch.drop(rejected < 0, "no_lower_scored_completion")
        return rejected


H4_MAX_DRAWS = 1000


@lru_cache(maxsize=64)
def h4_draws(seed: int, n: int) -> tuple[int, ...]:
    """The indices ``random.choice`` returns on a list of ``n`` items after ``random.seed(seed)``, in order."""
    rng = random.Random(seed)
    return tuple(rng.choice(range(n)) for _ in range(H4_MAX_DRAWS))


@dataclass(frozen=True)
class H4Replay:
    """The original 2023 loop: ``random.seed(seed)`` before every row, then ``random.choice`` over all the row's
    (score, response, model) triples, redrawn while it equals the chosen triple. The pick is positional: it depends
    on the number of completions only."""

    def __call__(self, batch: ScoredBatch) -> np.ndarray:
        import numpy as np
        import pyarrow.compute as pc

        lists, flat, parents, scores, chosen = batch.lists, batch.flat, batch.parents, batch.scores, batch.chosen
        n = len(lists)
        sizes = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
        starts = lists.offsets.to_numpy()[:-1] - lists.offsets[0].as_py()
        responses = np.asarray(flat.field("response").to_pylist(), dtype=object)
        models = np.asarray(flat.field("model").to_pylist(), dtype=object)

        def same_as_chosen(index: np.ndarray, rows: np.ndarray) -> np.ndarray:
            c = chosen[rows]
            return (scores[index] == scores[c]) & (responses[index] == responses[c]) & (models[index] == models[c])

        identical = same_as_chosen(np.arange(len(flat)), parents) if len(flat) else np.zeros(0, dtype=bool)
        batch.drop(np.bincount(parents[~identical], minlength=n) == 0, "all_completions_identical")
        rejected = np.full(n, -1, dtype=np.int64)
        pending = np.flatnonzero(batch.reasons == None)  # noqa: E711
        for draw in range(H4_MAX_DRAWS):
            if not len(pending):
                break
            picks = starts[pending] + np.array([h4_draws(batch.seed, int(sizes[r]))[draw] for r in pending])
            done = ~same_as_chosen(picks, pending)
            rejected[pending[done]] = picks[done]
            pending = pending[~done]
        batch.reasons[pending] = "all_completions_identical"
        return rejected


# The presets ------------------------------------------------------------------------------------------------

TRUTHFULQA_NOTE = (
    "UltraFeedback contains TruthfulQA prompts: evaluating on TruthfulQA after training on this data is "
    "contaminated (the `argilla-clean` preset removes them)."
)
"""Noted on the card of every preset that leaves the ``truthful_qa`` prompts in."""

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="zephyr",
            score=MeanRating(),
            reject=UniformReject(),
            note="score = mean of the four aspect ratings; rejected = a seeded uniform pick among the other "
            "eligible completions (the Zephyr paper's method).",
            help="the paper's method",
        ),
        Preset(
            name="h4-2023",
            score=FieldScore("overall_score"),
            reject=H4Replay(),
            note="reproduces the HuggingFaceH4/ultrafeedback_binarized revision that trained Zephyr-7B-beta: "
            "score = overall_score (the critique score, which disagrees with the fine-grained ratings on many "
            "rows); ties kept; rejected drawn with random.choice re-seeded before every row, so it depends on the "
            "position only.",
            help="the published 2023 revision exactly",
            caveats=(
                "`h4-2023` reproduces the published revision's defects on purpose (overall_score instead of the "
                "fine-grained ratings, ties, positional rejects): use it to reproduce or audit, not to train anew.",
            ),
            requires=("overall_score",),
            too_few="fewer_than_2_completions",  # every completion is eligible
        ),
        Preset(
            name="argilla-clean",
            score=MeanRating(),
            reject=UniformReject(allow_ties=False),
            note="score = mean rating; rejected among strictly lower-scored completions (no ties); "
            "TruthfulQA prompts removed (benchmark contamination).",
            help="no ties, no TruthfulQA",
            removes_sources=("truthful_qa",),
        ),
    )
}
DEFAULT_PRESET = "zephyr"


def preset_named(name: str) -> Preset:
    """The registered preset ``name``; otherwise a ConfigError listing the presets."""
    if not isinstance(name, str) or name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return PRESETS[name]


def preset_help() -> str:
    """``--preset``'s help: each preset's phrase."""
    return "; ".join(f"{preset.name}: {preset.help}" for preset in PRESETS.values()) + "."
