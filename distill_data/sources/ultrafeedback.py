"""Raw openbmb/UltraFeedback rows to Arrow batches: the prompt, its source and the rated completions.

Ratings ("1".."5" or "N/A") become float64 or null; everything else of the raw row that binarization does not
need (rationales, critiques, principles) is left behind.
"""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa

from ..presets import ASPECTS
from .columnar import ColumnarReader
from .rows import FieldProblem, RowSource, check_text, kind_of

COMPLETION_TYPE = pa.struct(
    [("model", pa.string()), ("response", pa.string())]
    + [(aspect, pa.float64()) for aspect in ASPECTS]
    + [("overall_score", pa.float64())]
)
SCHEMA = pa.schema([("prompt", pa.string()), ("source", pa.string()), ("completions", pa.list_(COMPLETION_TYPE))])
_RATINGS = {str(i): float(i) for i in range(1, 6)}


def _rating(value: Any, field: str) -> float | None:
    if value == "N/A":
        return None
    if isinstance(value, str) and value in _RATINGS:
        return _RATINGS[value]
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
        return float(value)
    raise FieldProblem(field, f'rating must be "1".."5" or "N/A", got {_short(value)}')


def _score(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            score = float(value)
        except OverflowError:  # an integer too large for a float (JSON has no limit)
            score = math.inf
        if math.isfinite(score):
            return score
    raise FieldProblem(field, f"expected a finite number, got {_short(value)}")


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a message names a bad value, it does not reprint a huge one."""
    text = repr(value) if not isinstance(value, int) or value.bit_length() < 4000 else f"<{value.bit_length()}-bit int>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _string(container: dict[str, Any], key: str, field: str) -> str:
    if key not in container:
        raise FieldProblem(field, "missing")
    value = container[key]
    if not isinstance(value, str):
        raise FieldProblem(field, f"expected a string, got {kind_of(value)}")
    return check_text(value, field)


def convert_row(value: Any, require_overall_score: bool = False) -> dict[str, Any]:
    """One raw UltraFeedback row to ``{"prompt", "source", "completions"}``, or :class:`FieldProblem`."""
    if not isinstance(value, dict):
        raise FieldProblem("(row)", f"expected a JSON object, got {kind_of(value)}")
    prompt = _string(value, "instruction", "instruction")
    source = value.get("source")
    if source is not None and not isinstance(source, str):
        raise FieldProblem("source", f"expected a string, got {kind_of(source)}")
    if source is not None:
        check_text(source, "source")
    if "completions" not in value:
        raise FieldProblem("completions", "missing")
    raw_completions = value["completions"]
    if not isinstance(raw_completions, list):
        raise FieldProblem("completions", f"expected a list, got {kind_of(raw_completions)}")
    completions = []
    for i, completion in enumerate(raw_completions):
        where = f"completions[{i}]"
        if not isinstance(completion, dict):
            raise FieldProblem(where, f"expected an object, got {kind_of(completion)}")
        annotations = completion.get("annotations")
        if not isinstance(annotations, dict):
            problem = "missing" if annotations is None else f"expected an object, got {kind_of(annotations)}"
            raise FieldProblem(f"{where}.annotations", problem)
        converted = {
            "model": _string(completion, "model", f"{where}.model"),
            "response": _string(completion, "response", f"{where}.response"),
        }
        for aspect in ASPECTS:
            annotation = annotations.get(aspect)
            if not isinstance(annotation, dict):
                problem = "missing" if annotation is None else f"expected an object, got {kind_of(annotation)}"
                raise FieldProblem(f"{where}.annotations.{aspect}", problem)
            if "Rating" not in annotation:
                raise FieldProblem(f"{where}.annotations.{aspect}.Rating", "missing")
            converted[aspect] = _rating(annotation["Rating"], f"{where}.annotations.{aspect}.Rating")
        converted["overall_score"] = _score(completion.get("overall_score"), f"{where}.overall_score")
        if require_overall_score and converted["overall_score"] is None:
            raise FieldProblem(f"{where}.overall_score", "missing (the h4-2023 preset scores by overall_score)")
        completions.append(converted)
    return {"prompt": prompt, "source": source, "completions": completions}


# The fields convert_row reads, as Arrow's JSON reader is told to parse them (the rest of a raw row is skipped).
PARSE_SCHEMA = pa.schema(
    [
        ("instruction", pa.string()),
        ("source", pa.string()),
        (
            "completions",
            pa.list_(
                pa.struct(
                    [
                        ("model", pa.string()),
                        ("response", pa.string()),
                        ("overall_score", pa.float64()),
                        ("annotations", pa.struct([(a, pa.struct([("Rating", pa.string())])) for a in ASPECTS])),
                    ]
                )
            ),
        ),
    ]
)
_RATING_TEXTS = pa.array([*_RATINGS, "N/A"])
_RATING_VALUES = pa.array([*_RATINGS.values(), None], pa.float64())


def convert_table(parsed: pa.Table, require_overall_score: bool = False) -> pa.Table | None:
    """Rows parsed by Arrow with :data:`PARSE_SCHEMA`, as :func:`convert_row` converts them one by one; or None
    when some row might not convert (a missing field, a rating out of range...): :func:`convert_row` then reads
    them, to name the row and field. Ratings given as JSON numbers never get here (Arrow refuses the block)."""
    import pyarrow.compute as pc

    lists = parsed.column("completions").combine_chunks()
    if parsed.column("instruction").null_count or lists.null_count:
        return None
    completions = lists.flatten()
    model, response, overall_score, annotations = completions.flatten()
    if completions.null_count or model.null_count or response.null_count or annotations.null_count:
        return None
    if (require_overall_score and overall_score.null_count) or pc.is_finite(overall_score).false_count:
        return None
    ratings = []
    for aspect in annotations.flatten():
        (rating,) = aspect.flatten()
        index = pc.index_in(rating, value_set=_RATING_TEXTS)
        if aspect.null_count or index.null_count:
            return None
        ratings.append(_RATING_VALUES.take(index))
    items = pa.StructArray.from_arrays([model, response, *ratings, overall_score], fields=list(COMPLETION_TYPE))
    offsets = pc.subtract(lists.offsets, lists.offsets[0])
    columns = [parsed.column("instruction"), parsed.column("source"), pa.ListArray.from_arrays(offsets, items)]
    return pa.Table.from_arrays(columns, schema=SCHEMA)


class UltraFeedbackSource(RowSource):
    """Raw UltraFeedback rows from files, globs, folders or Hub ids (``openbmb/UltraFeedback``)."""

    def __init__(
        self,
        inputs: list[str],
        on_error: str = "fail",
        batch_size: int = 10_000,
        require_overall_score: bool = False,
    ) -> None:
        def convert(value: Any) -> dict[str, Any]:
            return convert_row(value, require_overall_score)

        def convert_block(parsed: pa.Table) -> pa.Table | None:
            return convert_table(parsed, require_overall_score)

        super().__init__(list(inputs), convert, SCHEMA, on_error=on_error, batch_size=batch_size)
        self.columnar = ColumnarReader(PARSE_SCHEMA, convert_block)

    def describe(self) -> list[dict[str, Any]]:
        """As for any source; an output of ``distill-data rate`` also names its generators and judge (for the card)."""
        from ..feedback.lineage import feedback_summary
        from .inputs import LocalFile

        described = super().describe()
        for ref, entry in zip(self.refs, described, strict=True):
            summary = feedback_summary(ref.path) if isinstance(ref, LocalFile) else None
            if summary is not None:
                entry["feedback"] = summary
        return described
