"""The ``distill-data check`` command: parse options, run the check, print the report, exit 1 on a blocking one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..cli_shell import console, progress_option, reports_errors, summary_console
from ..errors import ConfigError
from .problems import KINDS, LENGTH_KINDS
from .report import print_report

_BLOCKING = [kind for kind, k in KINDS.items() if k.blocking or kind in LENGTH_KINDS]


@click.command()
@click.argument("source", metavar="DIR")
@click.option("--tokenizer", required=True, metavar="PATH_OR_ID", help="The tokenizer the model trains with.")
@click.option(
    "--chat-template",
    default=None,
    metavar="NAME|FILE",
    help="Render with this template instead of the tokenizer's, as a training recipe's chat_template does: "
    "'zephyr' (the trainer's default), a Jinja file or a template string.",
)
@click.option(
    "--max-length",
    type=click.IntRange(min=1),
    default=None,
    help="Token limit of the trainer [default: the tokenizer's model_max_length, else 2048].",
)
@click.option(
    "--assistant-only-loss", is_flag=True, help="The trainer uses assistant_only_loss: needs {% generation %}."
)
@click.option("--strict", is_flag=True, help="Rows over the max length block too (exit 1).")
@click.option(
    "--allow",
    multiple=True,
    type=click.Choice(_BLOCKING),
    metavar="KIND",
    help=f"Report this kind of problem as a warning only (repeatable): {', '.join(_BLOCKING)}.",
)
@click.option("--split", "splits", multiple=True, help="Check only this split (repeatable) [default: all].")
@click.option("--sample", type=click.IntRange(min=1), default=None, help="Check N rows per split, seeded.")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of --sample.")
@click.option(
    "--json", "json_file", type=click.Path(path_type=Path), default=None, help="Also write the report as JSON."
)
@progress_option
@reports_errors
def check(
    source: str,
    tokenizer: str,
    chat_template: str | None,
    max_length: int | None,
    assistant_only_loss: bool,
    strict: bool,
    allow: tuple[str, ...],
    splits: tuple[str, ...],
    sample: int | None,
    seed: int,
    json_file: Path | None,
    progress: bool,
) -> None:
    """Catch chat-template and data problems in DIR before training on it.

    Renders every row of DIR (an output folder, a .parquet/.jsonl/.json file or a Hub dataset id) through the
    tokenizer's chat template the way the trainer will, and reports doubled BOS/EOS, missing EOS, missing
    {% generation %} markers, chosen/rejected prompt mismatches, empty responses and rows over the max length.

    Exit 1 on a blocking problem (rows over the max length only with --strict), 2 on a usage error.
    """
    from .run import check_dataset

    report = check_dataset(
        source,
        tokenizer,
        chat_template=chat_template,
        max_length=max_length,
        assistant_only_loss=assistant_only_loss,
        strict=strict,
        allow=allow,
        splits=splits,
        sample=sample,
        seed=seed,
        progress=progress,
        console=console,
    )
    if json_file is not None:
        try:
            json_file.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--json {json_file}: cannot write it: {exc}") from None
    print_report(report, summary_console)
    if report.blocking:
        sys.exit(1)
