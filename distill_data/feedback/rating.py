"""``rate``: a judge rates all completions of a prompt together, per aspect, on 1..5 with a rationale.

Output rows are the raw UltraFeedback schema that ``binarize`` reads: each completion gains
``annotations.<aspect>.Rating`` ("1".."5" or "N/A") and ``.Rationale`` ("N/A" when the judge gives none), and
``fine-grained_score`` (the mean of its numeric ratings). An aspect not asked for is "N/A". An answer that
cannot be read in full is re-asked up to ``parse_retries`` times, the unreadable answer and a note on what was
wrong added to the conversation; after that the responses still without a rating get "N/A" and the judge's
raw answers are kept in ``rating_failures``. An unreadable answer never stops the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..presets import ASPECTS
from .client import ChatClient, RequestFailed
from .endpoint import Endpoint
from .generation import COMPLETION_TYPE
from .lineage import folder_provenance
from .parse import NA, Judgement, describe_problem, parse_judgements
from .records import Generation, Rows, generation_reader
from .rubrics import RUBRIC_VERSION, load_rubrics
from .runner import Failures, FeedbackResult, Job, RunOptions, run_job
from .seeds import request_seed
from .usage import Ledger

NOT_RATED = Judgement(NA, "not rated: aspect not requested")
ANNOTATION_TYPE = pa.struct([("Rating", pa.string()), ("Rationale", pa.string())])
RATED_COMPLETION_TYPE = pa.struct(
    [
        *COMPLETION_TYPE,
        ("annotations", pa.struct([(aspect, ANNOTATION_TYPE) for aspect in ASPECTS])),
        ("fine-grained_score", pa.float64()),
    ]
)
FAILURE_TYPE = pa.struct(
    [("aspect", pa.string()), ("attempts", pa.int64()), ("problem", pa.string()), ("replies", pa.list_(pa.string()))]
)
SCHEMA = pa.schema(
    [
        ("instruction", pa.string()),
        ("source", pa.string()),
        ("models", pa.list_(pa.string())),
        ("completions", pa.list_(RATED_COMPLETION_TYPE)),
        ("rating_failures", pa.list_(FAILURE_TYPE)),
    ]
)


@dataclass(frozen=True)
class RatingParams:
    """What every judge request asks for."""

    aspects: tuple[str, ...] = ASPECTS
    temperature: float = 0.0
    max_tokens: int = 1024
    seed: int = 42
    parse_retries: int = 2
    rubric_version: str = RUBRIC_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "aspects": list(self.aspects),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "parse_retries": self.parse_retries,
        }


@dataclass
class AspectCounts:
    """How the judge's answers for one aspect read."""

    asked: int = 0  # prompts whose completions were rated for this aspect
    retried: int = 0  # of which needed at least one re-ask
    failed: int = 0  # of which still had a response without a rating after the last re-ask
    unrated: int = 0  # responses left "N/A" for that reason


@dataclass
class _Stats:
    aspects: dict[str, AspectCounts]
    generators: dict[str, None] = field(default_factory=dict)  # first-seen order
    failures: Failures = field(default_factory=Failures)


def fine_grained_score(ratings: list[str]) -> float | None:
    """The mean of the numeric ratings (UltraFeedback's ``fine-grained_score``), None if all are N/A."""
    numbers = [int(rating) for rating in ratings if rating != NA]
    return sum(numbers) / len(numbers) if numbers else None


def rate(
    inputs: Sequence[str],
    judge: Endpoint,
    output: str | Path,
    *,
    params: RatingParams | None = None,
    options: RunOptions | None = None,
    ledger: Ledger | None = None,
) -> FeedbackResult:
    """Rate the completions of every row of ``inputs`` with ``judge``; write ``output`` for ``binarize``."""
    params = params or RatingParams()
    options = options or RunOptions()
    ledger = ledger or Ledger(prices=dict(options.prices))
    rubrics = load_rubrics(params.rubric_version)
    rows: Rows[Generation] = Rows(inputs, generation_reader, options.on_error)
    stats = _Stats({aspect: AspectCounts() for aspect in params.aspects})

    async def judge_aspect(client: ChatClient, aspect: str, row: Generation) -> tuple[list[Judgement], dict | None]:
        responses = [completion.response for completion in row.completions]
        count = len(responses)
        messages = rubrics.messages(aspect, row.instruction, responses)
        seed = request_seed(params.seed, "rate", judge.name, aspect, row.instruction, *responses)
        counts = stats.aspects[aspect]
        counts.asked += 1
        best: list[Judgement | None] = [None] * count
        replies: list[str] = []
        problem = ""
        for attempt in range(params.parse_retries + 1):
            body = {
                "model": judge.name,
                "messages": messages,
                "temperature": params.temperature,
                "max_tokens": params.max_tokens,
                "seed": seed,
            }
            try:
                answer = await client.complete(judge, body)
            except RequestFailed as failure:
                if options.on_error == "fail":
                    raise
                stats.failures.add(str(failure))
                problem = f"request failed: {failure.reason}"
                break
            replies.append(answer.content)
            judgements = parse_judgements(answer.content, count)
            if _readable(judgements) > _readable(best):
                best = judgements
            if _readable(best) == count:
                break
            problem = describe_problem(judgements)
            if attempt < params.parse_retries:
                if attempt == 0:
                    counts.retried += 1
                messages = [*messages, {"role": "assistant", "content": answer.content}, rubrics.retry(problem, count)]
        audit = None
        if _readable(best) < count:
            counts.failed += 1
            counts.unrated += count - _readable(best)
            audit = {"aspect": aspect, "attempts": len(replies), "problem": problem, "replies": replies}
        return [judgement or Judgement(NA, NA) for judgement in best], audit

    async def work(client: ChatClient, row: Generation) -> dict[str, Any]:
        for completion in row.completions:
            stats.generators.setdefault(completion.model, None)
        judged: dict[str, list[Judgement]] = {}
        audits = []
        if row.completions:
            results = await asyncio.gather(*(judge_aspect(client, aspect, row) for aspect in params.aspects))
            for aspect, (judgements, audit) in zip(params.aspects, results, strict=True):
                judged[aspect] = judgements
                if audit is not None:
                    audits.append(audit)
        completions = []
        for index, completion in enumerate(row.completions):
            verdicts = {aspect: judged[aspect][index] if aspect in judged else NOT_RATED for aspect in ASPECTS}
            rated = [verdicts[aspect].rating for aspect in params.aspects]
            completions.append(
                {
                    **completion.to_dict(),
                    "annotations": {a: {"Rating": v.rating, "Rationale": v.rationale} for a, v in verdicts.items()},
                    "fine-grained_score": fine_grained_score(rated),
                }
            )
        return {
            "instruction": row.instruction,
            "source": row.source,
            "models": [completion.model for completion in row.completions],
            "completions": completions,
            "rating_failures": audits,
        }

    def record() -> dict[str, Any]:
        return {
            "judge": judge.describe(),
            "generators": list(stats.generators),
            "generation": _generation_lineage(rows),
            "params": params.to_dict(),
            "rubrics": rubrics.describe(),
            "parse": {aspect: vars(counts) for aspect, counts in stats.aspects.items()},
            "failures": stats.failures.to_dict(),
        }

    from .card import write_feedback_card

    job = Job("rate", rows, SCHEMA, work, record, write_feedback_card, stats.failures)
    return run_job(job, Path(output), options, ledger)


def _readable(judgements: list[Judgement | None]) -> int:
    return sum(judgement is not None for judgement in judgements)


def _generation_lineage(rows: Rows[Generation]) -> list[dict[str, Any]]:
    """The ``generate`` runs behind the input folders: their models (no keys) and parameters."""
    from ..sources.inputs import LocalFile

    lineage: list[dict[str, Any]] = []
    for ref in rows.refs:
        if isinstance(ref, LocalFile):
            record = folder_provenance(ref.path, "generate")
            entry = {"models": record["models"], "params": record["params"]} if record else None
            if entry is not None and entry not in lineage:
                lineage.append(entry)
    return lineage
