"""What generate and rate read: prompts, and prompts with their completions, each located by file and line.

Inputs are files, globs, folders, URLs or Hub ids, resolved by :mod:`distill_data.sources.inputs` and read by
their format (:mod:`distill_data.sources.formats`). Every row is checked before the first request is sent, so a
bad row at line 50,000 stops the run before it costs anything; with ``on_error="skip"`` bad rows go to
``rejects.jsonl`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TextIO, TypeVar

from ..errors import InputError
from ..sources.inputs import HubDataset, InputRef, read_records, reject_line, resolve_inputs
from ..sources.rows import FieldProblem, kind_of
from .principles import NO_PRINCIPLE

PROMPT_FIELDS = ("instruction", "prompt")
T = TypeVar("T")


@dataclass(frozen=True)
class Prompt:
    instruction: str
    source: str


@dataclass(frozen=True)
class Completion:
    """One model's answer, as UltraFeedback stores it."""

    model: str
    response: str
    custom_system_prompt: str = ""
    principle: str = NO_PRINCIPLE

    def to_dict(self) -> dict[str, str]:
        return {
            "model": self.model,
            "response": self.response,
            "custom_system_prompt": self.custom_system_prompt,
            "principle": self.principle,
        }


@dataclass(frozen=True)
class Generation:
    """A prompt with its completions: a row that ``generate`` wrote (or any raw UltraFeedback row)."""

    instruction: str
    source: str
    completions: tuple[Completion, ...]


class Rows(Generic[T]):
    """Rows of one kind from ``--input`` specs: checked in a first pass, then streamed in a second."""

    def __init__(self, specs: list[str] | tuple[str, ...], convert: Callable[[Any, str], T], on_error: str) -> None:
        self.refs = resolve_inputs(list(specs))
        self.convert = convert
        self.on_error = on_error
        self.rows = 0
        self.rejected = 0

    def describe(self) -> list[dict[str, Any]]:
        return [ref.describe() for ref in self.refs]

    def check(self, rejects: TextIO | None = None) -> int:
        """Read everything once: raise on the first bad row (or set it aside); return the number of good rows."""
        self.rows = self.rejected = 0
        for ref in self.refs:
            for record in read_records(ref):
                try:
                    if record.error is not None:
                        raise FieldProblem("", record.error)
                    self.convert(record.value, _default_source(ref))
                except FieldProblem as problem:
                    field = problem.field or None
                    if self.on_error == "fail":
                        raise InputError(
                            problem.reason, file=record.file, location=record.location, field=field
                        ) from None
                    self.rejected += 1
                    if rejects is not None:
                        rejects.write(reject_line(record, field, problem.reason) + "\n")
                    continue
                self.rows += 1
        if self.rows == 0:
            raise InputError(f"no valid rows in the input ({self.rejected} bad)")
        return self.rows

    def __iter__(self) -> Iterator[T]:
        for ref in self.refs:
            for record in read_records(ref):
                if record.error is None:
                    try:
                        yield self.convert(record.value, _default_source(ref))
                    except FieldProblem:
                        continue  # reported by check()


def _default_source(ref: InputRef) -> str:
    return ref.repo_id if isinstance(ref, HubDataset) else ref.path.stem


def prompt_reader(field: str | None) -> Callable[[Any, str], Prompt]:
    """Rows -> :class:`Prompt`: the ``field`` (default ``instruction``, else ``prompt``) or a bare string."""

    def convert(value: Any, default_source: str) -> Prompt:
        if isinstance(value, str):
            return Prompt(_non_empty(value, "(row)"), default_source)
        if not isinstance(value, dict):
            raise FieldProblem("(row)", f"expected an object or a string, got {kind_of(value)}")
        name = field or next((key for key in PROMPT_FIELDS if key in value), None)
        if name is None or name not in value:
            raise FieldProblem(name or PROMPT_FIELDS[0], "missing (name the prompt field with --field)")
        text = value[name]
        if not isinstance(text, str):
            raise FieldProblem(name, f"expected a string, got {kind_of(text)}")
        return Prompt(_non_empty(text, name), _source(value, default_source))

    return convert


def generation_reader(value: Any, default_source: str) -> Generation:
    """Rows -> :class:`Generation`: ``instruction`` and ``completions`` = [{``model``, ``response``, ...}]."""
    if not isinstance(value, dict):
        raise FieldProblem("(row)", f"expected an object, got {kind_of(value)}")
    instruction = _string(value, "instruction", "instruction")
    completions = value.get("completions")
    if not isinstance(completions, list):
        problem = "missing" if completions is None else f"expected a list, got {kind_of(completions)}"
        raise FieldProblem("completions", problem)
    parsed = []
    for index, completion in enumerate(completions):
        where = f"completions[{index}]"
        if not isinstance(completion, dict):
            raise FieldProblem(where, f"expected an object, got {kind_of(completion)}")
        parsed.append(
            Completion(
                model=_string(completion, "model", f"{where}.model"),
                response=_string(completion, "response", f"{where}.response"),
                custom_system_prompt=_optional(completion, "custom_system_prompt", where) or "",
                principle=_optional(completion, "principle", where) or NO_PRINCIPLE,
            )
        )
    return Generation(_non_empty(instruction, "instruction"), _source(value, default_source), tuple(parsed))


def _string(container: dict[str, Any], key: str, field: str) -> str:
    if key not in container:
        raise FieldProblem(field, "missing")
    if not isinstance(container[key], str):
        raise FieldProblem(field, f"expected a string, got {kind_of(container[key])}")
    return _unicode(container[key], field)


def _optional(container: dict[str, Any], key: str, where: str) -> str | None:
    value = container.get(key)
    if value is not None and not isinstance(value, str):
        raise FieldProblem(f"{where}.{key}", f"expected a string, got {kind_of(value)}")
    return _unicode(value, f"{where}.{key}") if value is not None else None


def _non_empty(text: str, field: str) -> str:
    if not text.strip():
        raise FieldProblem(field, "empty prompt")
    return _unicode(text, field)


def _unicode(text: str, field: str) -> str:
    """``text``, unless it holds a lone surrogate (from a JSON ``\\ud800`` escape): no server or file can take it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FieldProblem(field, f"not valid Unicode: lone surrogate at character {exc.start}") from None
    return text


def _source(value: dict[str, Any], default: str) -> str:
    source = value.get("source")
    return _unicode(source, "source") if isinstance(source, str) and source else default
