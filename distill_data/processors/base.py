"""The processor contract: typed parameters, declared columns, whole-batch transforms.

A processor is a dataclass. Its init fields are its parameters, so a step round-trips through YAML/JSON
(:meth:`Processor.to_dict` / :func:`processor_from_dict`) and lands verbatim in provenance. It declares the
columns it reads (``inputs``) and writes (``outputs``), and the packages it imports beyond the core
(``requires``), so a :class:`~distill_data.pipeline.Pipeline` can be checked before it runs. It transforms a whole
``pyarrow.Table`` batch at a time.

A :class:`Filter` only says, per row, why it would drop it (or null to keep it); the counting of rows,
drops per reason and examples lives here once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..declared_types import check_value, field_hints
from ..errors import ConfigError
from .requires import Requirement

MAX_EXAMPLES = 5
MAX_CLUSTER_ROWS = 20
EXAMPLE_CHARS = 200

_REGISTRY: dict[str, type[Processor]] = {}


@dataclass
class StepStats:
    """What one step did: rows in and out, drops per reason with up to five examples, other counters, and for
    steps that group rows (near_dedup) the first clusters: kept row -> ``{"dropped": n, "dropped_rows": [...]}``."""

    name: str
    rows_in: int = 0
    rows_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    tallies: dict[str, dict[str, int]] = field(default_factory=dict)
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)

    def count(self, counter: str, n: int) -> None:
        self.counters[counter] = self.counters.get(counter, 0) + int(n)

    def tally(self, name: str, values: pa.Array) -> None:
        """Count how often each value occurs (for example which model was chosen), summed over batches."""
        counts = self.tallies.setdefault(name, {})
        for entry in pc.value_counts(values.drop_null()).to_pylist():
            counts[entry["values"]] = counts.get(entry["values"], 0) + entry["counts"]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def merge(self, other: StepStats) -> None:
        """Add the counts of ``other`` (a later part of the same stream): examples stay the first five."""
        self.rows_in += other.rows_in
        self.rows_out += other.rows_out
        for reason, count in other.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + count
        for reason, examples in other.examples.items():
            kept = self.examples.setdefault(reason, [])
            kept.extend(examples[: MAX_EXAMPLES - len(kept)])
        for counter, count in other.counters.items():
            self.count(counter, count)
        for name, counts in other.tallies.items():
            mine = self.tallies.setdefault(name, {})
            for value, count in counts.items():
                mine[value] = mine.get(value, 0) + count
        for kept, cluster in other.clusters.items():
            into = self.clusters.setdefault(kept, {"dropped": 0, "dropped_rows": []})
            into["dropped"] += cluster["dropped"]
            rows = into["dropped_rows"]
            rows.extend(cluster["dropped_rows"][: max(MAX_CLUSTER_ROWS - len(rows), 0)])


@dataclass
class Processor:
    """Base class of every step. Subclasses are dataclasses and set ``name``, ``inputs``, ``outputs`` (and
    ``removes``, the columns they consume and leave out of their output, and ``requires``, the packages they
    import beyond the core)."""

    name: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()
    removes: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[tuple[Requirement, ...]] = ()
    # A stateful step (dedup) sees the rows in order in one process; stateless steps may run on any worker.
    stateful: ClassVar[bool] = False
    # Whether the step removes near-duplicate prompts (another dedup step's card note then need not warn of them).
    drops_near_duplicates: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if isinstance(name, str):
            _REGISTRY[name] = cls

    def __post_init__(self) -> None:
        _check_params(self)

    def setup(self) -> None:
        """Reset state before a run (stateful steps such as dedup override this)."""

    def process(self, table: pa.Table, stats: StepStats) -> pa.Table:
        """Transform one batch; record counters in ``stats`` (rows in/out are counted by the pipeline)."""
        raise NotImplementedError

    def input_files(self) -> tuple[str, ...]:
        """Files (or Hub ids) the step reads besides the rows: a run never replaces a folder that holds one."""
        return ()

    def card_notes(self, steps: Sequence[Processor]) -> tuple[str, ...]:
        """What the dataset card should note about this step (its "Known limitations"), given every step of the
        recipe (``steps``, this one included): the step knows what it did, so the card never looks into steps."""
        return ()

    def card_languages(self) -> tuple[str, ...]:
        """The languages the step keeps, for the card's ``language`` tag (none: it says nothing of language)."""
        return ()

    def required_fields(self) -> frozenset[str]:
        """Optional input fields the step needs in every row, so the source sets aside a row without them."""
        return frozenset()

    def params(self) -> dict[str, Any]:
        """The parameters, as plain JSON/YAML values."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.init}

    def to_dict(self) -> dict[str, Any]:
        return {self.name: self.params()}


@dataclass
class Filter(Processor):
    """A step that keeps or drops whole rows. Subclasses implement :meth:`drop_reasons`."""

    def drop_reasons(self, table: pa.Table) -> tuple[pa.Array, pa.Array | None]:
        """Per row: a drop reason (null keeps the row) and optionally a short detail for examples."""
        raise NotImplementedError

    def process(self, table: pa.Table, stats: StepStats) -> pa.Table:
        reasons, details = self.drop_reasons(table)
        return apply_drops(table, stats, reasons, details)


def apply_drops(table: pa.Table, stats: StepStats, reasons: pa.Array, details: pa.Array | None) -> pa.Table:
    """Count the drops (reason per row, null = keep), keep examples, and return the kept rows."""
    dropped = reasons.is_valid()
    if not pc.any(dropped).as_py():
        return table
    record_drops(stats, table, reasons, details)
    return table.filter(pc.invert(dropped))


def record_drops(stats: StepStats, table: pa.Table, reasons: pa.Array, details: pa.Array | None) -> None:
    """Count drops per reason and keep the first few examples of each."""
    reason_values = reasons.to_numpy(zero_copy_only=False)
    for entry in pc.value_counts(reasons.drop_null()).to_pylist():
        reason = entry["values"]
        stats.dropped[reason] = stats.dropped.get(reason, 0) + entry["counts"]
        kept = stats.examples.setdefault(reason, [])
        if len(kept) >= MAX_EXAMPLES:
            continue
        rows = np.flatnonzero(reason_values == reason)[: MAX_EXAMPLES - len(kept)]
        for row in rows:
            kept.append(example_of(table, int(row), None if details is None else details[int(row)].as_py()))


def example_of(table: pa.Table, row: int, detail: str | None) -> dict[str, Any]:
    """A short, JSON-safe picture of a dropped row: its id, its first turn (truncated) and the detail."""
    example: dict[str, Any] = {}
    if "id" in table.column_names:
        example["id"] = table.column("id")[row].as_py()
    if "messages" in table.column_names:
        messages = table.column("messages")[row].as_py() or []
        if messages:
            example["first_turn"] = _truncate(messages[0].get("content"))
    elif "prompt" in table.column_names:
        example["prompt"] = _truncate(table.column("prompt")[row].as_py())
    if detail is not None:
        example["detail"] = _truncate(detail)
    return example


def _truncate(text: str | None) -> str | None:
    if text is None or len(text) <= EXAMPLE_CHARS:
        return text
    return text[:EXAMPLE_CHARS] + "…"


def registered_processors() -> dict[str, type[Processor]]:
    """Every processor class by its recipe name."""
    return dict(_REGISTRY)


def processor_from_dict(spec: Any, where: str = "step") -> Processor:
    """Build a processor from ``{name: {param: value}}`` (or a bare name), as written in a recipe."""
    if isinstance(spec, str):
        spec = {spec: {}}
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ConfigError(f"{where}: expected a mapping with one processor name, got {spec!r}")
    ((name, params),) = spec.items()
    cls = _REGISTRY.get(name)
    if cls is None:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(f"{where}: unknown processor '{name}'; known processors: {known}")
    params = params or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{where} ({name}): parameters must be a mapping, got {params!r}")
    allowed = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{where} ({name}): unknown parameter {', '.join(map(repr, unknown))}; "
            f"expected one of: {', '.join(allowed) or '(none)'}"
        )
    try:
        return cls(**params)
    except ConfigError as exc:
        raise ConfigError(f"{where} ({name}): {exc}") from None


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _check_params(processor: Processor) -> None:
    """Reject parameter values of the wrong type, naming the parameter; a YAML list becomes the declared tuple."""
    hints = field_hints(type(processor))
    for f in dataclasses.fields(processor):
        if not f.init:
            continue
        value = getattr(processor, f.name)
        check_value(value, hints[f.name], f"parameter '{f.name}'")
        if isinstance(value, list):
            setattr(processor, f.name, tuple(value))
