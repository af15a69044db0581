"""Check a dataset against a tokenizer before training: every split (or a seeded sample), batch by batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from ..errors import ConfigError
from ..progress import progress_bar
from .data import load_splits, row_id
from .problems import KINDS, RowResult, Settings, check_rows
from .render import Renderer, load_tokenizer, resolve_template
from .report import CheckReport, SplitReport, Tally

DEFAULT_MAX_LENGTH = 2048
BATCH_ROWS = 64


def default_max_length(tokenizer: Any) -> int:
    """The tokenizer's ``model_max_length`` when it is a real limit (transformers puts 1e30 when unknown)."""
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if isinstance(limit, int) and 0 < limit <= 10**7 else DEFAULT_MAX_LENGTH


def check_dataset(
    source: str | Path,
    tokenizer: Any,
    *,
    chat_template: str | None = None,
    max_length: int | None = None,
    assistant_only_loss: bool = False,
    strict: bool = False,
    allow: tuple[str, ...] | list[str] = (),
    splits: tuple[str, ...] | list[str] = (),
    sample: int | None = None,
    seed: int = 42,
    progress: bool = False,
    console: Console | None = None,
) -> CheckReport:
    """Render every row of ``source`` (a folder, file or Hub id) with ``tokenizer`` (a folder, Hub id or tokenizer
    object) the way the trainer will, and report what would go wrong.

    ``chat_template`` replaces the tokenizer's (a name such as ``zephyr``, a file or a Jinja string), as a training
    recipe's ``chat_template`` does; ``allow`` lists blocking kinds to report as warnings only.
    """
    unknown = [kind for kind in allow if kind not in KINDS]
    if unknown:
        raise ConfigError(f"--allow: unknown problem kind {', '.join(unknown)} (kinds: {', '.join(KINDS)})")
    loaded = load_splits(source, tuple(splits))
    name = str(tokenizer) if isinstance(tokenizer, (str, Path)) else type(tokenizer).__name__
    tok = load_tokenizer(tokenizer) if isinstance(tokenizer, (str, Path)) else tokenizer
    template = resolve_template(chat_template) if chat_template is not None else None
    renderer = Renderer(tok, template, name=f"--tokenizer {name}")
    settings = Settings(max_length or default_max_length(tok), assistant_only_loss)
    report = CheckReport(
        source=str(source),
        tokenizer=name,
        chat_template=chat_template or "tokenizer",
        max_length=settings.max_length,
        assistant_only_loss=assistant_only_loss,
        strict=strict,
        allow=tuple(allow),
        facts=renderer.facts(),
    )
    if assistant_only_loss and not renderer.generation_markers:
        report.template_problems["missing_generation_markers"] = Tally(
            1,
            [
                {
                    "row": None,
                    "id": None,
                    "detail": "the chat template has no {% generation %} markers: TRL's assistant_only_loss cannot "
                    "find the assistant tokens (use --chat-template zephyr, or add the markers around each assistant "
                    "turn and its end-of-turn token)",
                }
            ],
        )
    samples = {split.name: split.sample(sample, seed) for split in loaded}
    with progress_bar(progress, console) as bar:
        task = bar.add_task("check", total=sum(len(indices) for indices in samples.values()))
        for split in loaded:
            indices = samples[split.name]
            split_report = SplitReport(split.name, split.kind, split.rows, len(indices))
            bar.update(task, description=split.name)
            for start in range(0, len(indices), BATCH_ROWS):
                batch = indices[start : start + BATCH_ROWS]
                rows = split.table.take(batch).to_pylist()
                results: list[RowResult] = check_rows(split.kind, rows, renderer, settings)
                for index, row, result in zip(batch, rows, results, strict=True):
                    split_report.add(index, row_id(row), result)
                bar.advance(task, len(batch))
            report.splits.append(split_report)
    return report
