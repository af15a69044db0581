"""The result of a check: problems by kind with counts and the first few rows, token lengths per split.

``to_dict()`` is the machine-readable report (``--json``); ``print_report`` the rich tables. A kind is blocking
(exit 1) when it is in ``KINDS`` as blocking, or a length kind under ``--strict``, and was not ``--allow``-ed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from .problems import KINDS, LENGTH_KINDS, RowResult

EXAMPLES = 5  # rows kept per problem kind


@dataclass
class Tally:
    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, example: dict[str, Any]) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)


@dataclass
class SplitReport:
    name: str
    kind: str  # "sft", "preference" or "generation"
    rows: int
    checked: int
    lengths: list[int] = field(default_factory=list)
    problems: dict[str, Tally] = field(default_factory=dict)

    def add(self, row: int, row_id: str | None, result: RowResult) -> None:
        if result.length is not None:
            self.lengths.append(result.length)
        for problem in result.problems:
            example = {"row": row, "id": row_id, "detail": problem.detail}
            self.problems.setdefault(problem.kind, Tally()).add(example)

    def length_stats(self) -> dict[str, int] | None:
        """Token length percentiles (nearest rank) of the rendered rows."""
        if not self.lengths:
            return None
        ordered = sorted(self.lengths)

        def rank(q: int) -> int:
            return ordered[max(0, math.ceil(len(ordered) * q / 100) - 1)]

        return {"p50": rank(50), "p90": rank(90), "p99": rank(99), "max": ordered[-1]}


@dataclass
class CheckReport:
    source: str
    tokenizer: str
    chat_template: str  # "tokenizer" (its own) or where the --chat-template came from
    max_length: int
    assistant_only_loss: bool = False
    strict: bool = False
    allow: tuple[str, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)
    template_problems: dict[str, Tally] = field(default_factory=dict)  # about the template, not a row
    splits: list[SplitReport] = field(default_factory=list)

    def is_blocking(self, kind: str) -> bool:
        if kind in self.allow:
            return False
        return KINDS[kind].blocking or (self.strict and kind in LENGTH_KINDS)

    def blocking_counts(self) -> dict[str, int]:
        """Rows (or template problems) per blocking kind, over all splits."""
        counts: dict[str, int] = {}
        for problems in [self.template_problems, *(s.problems for s in self.splits)]:
            for kind, tally in problems.items():
                if self.is_blocking(kind):
                    counts[kind] = counts.get(kind, 0) + tally.count
        return counts

    @property
    def blocking(self) -> bool:
        return bool(self.blocking_counts())

    def to_dict(self) -> dict[str, Any]:
        def problems(tallies: dict[str, Tally]) -> dict[str, Any]:
            return {
                kind: {"count": t.count, "blocking": self.is_blocking(kind), "examples": t.examples}
                for kind, t in sorted(tallies.items())
            }

        return {
            "source": self.source,
            "tokenizer": self.tokenizer,
            "chat_template": self.chat_template,
            "max_length": self.max_length,
            "assistant_only_loss": self.assistant_only_loss,
            "strict": self.strict,
            "allow": list(self.allow),
            "tokenizer_facts": self.facts,
            "template_problems": problems(self.template_problems),
            "splits": {
                s.name: {
                    "kind": s.kind,
                    "rows": s.rows,
                    "checked": s.checked,
                    "lengths": s.length_stats(),
                    "over_max_length": s.problems["over_max_length"].count if "over_max_length" in s.problems else 0,
                    "problems": problems(s.problems),
                }
                for s in self.splits
            },
            "blocking": self.blocking_counts(),
            "ok": not self.blocking,
        }


def print_report(report: CheckReport, console: Console) -> None:
    facts = report.facts
    console.print(
        f"tokenizer {report.tokenizer} (chat template: {report.chat_template}); bos {facts.get('bos_token')!r}, "
        f"eos {facts.get('eos_token')!r}, tokenizer(text) adds bos: {facts.get('tokenizer_adds_bos')}, "
        f"adds eos: {facts.get('tokenizer_adds_eos')}; max length {report.max_length:,}",
        highlight=False,
        soft_wrap=True,
    )
    for kind, tally in report.template_problems.items():
        severity = "[bold red]blocking[/]" if report.is_blocking(kind) else "[yellow]warning[/]"
        for example in tally.examples:
            console.print(f"{severity} {kind}: {example['detail']}", highlight=False, soft_wrap=True)
    for split in report.splits:
        stats = split.length_stats()
        lengths = ", ".join(f"{k} {v:,}" for k, v in stats.items()) if stats else "none rendered"
        rows = f"{split.checked:,} of {split.rows:,}" if split.checked < split.rows else f"{split.rows:,}"
        console.print(
            f"\n[bold]{split.name}[/] ({split.kind}): {rows} rows; tokens {lengths}", highlight=False, soft_wrap=True
        )
        console.print(_split_table(report, split))
    counts = report.blocking_counts()
    if counts:
        listed = ", ".join(f"{kind} ({n:,})" for kind, n in sorted(counts.items()))
        console.print(f"[bold red]blocking problems[/]: {listed}", highlight=False, soft_wrap=True)
    else:
        console.print("[green]no blocking problems[/]", highlight=False)


def _split_table(report: CheckReport, split: SplitReport) -> Table:
    table = Table()
    table.add_column("problem", no_wrap=True)
    table.add_column("severity")
    table.add_column("rows", justify="right")
    table.add_column("first rows")
    if not split.problems:
        table.add_row("[green]none[/]", "-", "0", "-")
    for kind, tally in sorted(split.problems.items(), key=lambda item: (not report.is_blocking(item[0]), item[0])):
        severity = "[bold red]blocking[/]" if report.is_blocking(kind) else "[yellow]warning[/]"
        table.add_row(kind, severity, f"{tally.count:,}", _examples(tally))
    return table


def _examples(tally: Tally) -> str:
    """The first rows, those with the same detail on one line (a template problem repeats on every row)."""
    by_detail: dict[str, list[str]] = {}
    for example in tally.examples:
        label = str(example["row"]) + (f" ({example['id']})" if example["id"] else "")
        by_detail.setdefault(example["detail"], []).append(label)
    return "\n".join(
        f"row{'s' if len(rows) > 1 else ''} {', '.join(rows)}: {detail}" for detail, rows in by_detail.items()
    )
