"""What every ``distill-data`` command shares: the consoles, the common click options and the error reporting.

One module below all the command groups (cli.py, check/command.py, feedback/commands.py), so they share it without
importing each other. Exit codes: 0 success, 1 bad data or an output problem, 2 a usage or configuration error,
130 interrupted.
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from .errors import ConfigError, DistillDataError
from .output_folder import FORCE_OVERWRITE_HELP

# Progress and errors go to stderr, so stdout holds only the summary.
console = Console(stderr=True)
# Summaries go to stdout; a pipe or a file gets a readable width instead of 80 columns.
summary_console = Console(width=None if sys.stdout.isatty() else 120)

# Errors of the machine, not of the program (a full or read-only disk, a file-size limit, permissions): one line.
FULL_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS})
MACHINE_ERRNOS = FULL_DISK_ERRNOS | {errno.EACCES, errno.EPERM, errno.ENOTDIR}


def reports_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Turn our errors into one red line and the documented exit code, without a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except ConfigError as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            sys.exit(2)
        except DistillDataError as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            sys.exit(1)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]: nothing was written")
            sys.exit(130)
        except OSError as exc:
            if exc.errno not in MACHINE_ERRNOS:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            console.print(f"[bold red]error:[/] {where}{os.strerror(exc.errno)}", highlight=False, soft_wrap=True)
            sys.exit(1)

    return wrapper


def with_options(*options: Callable[[Callable[..., None]], Callable[..., None]]) -> Callable[..., Any]:
    """One decorator that adds ``options`` in the order given (as they appear in --help)."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


# Every command that writes an output folder: where, and whether an earlier one may be replaced.
output_options = with_options(
    click.option("--output", "-o", type=click.Path(path_type=Path), required=True, help="Output folder."),
    click.option(
        "--overwrite", is_flag=True, help="Replace an earlier output of distill-data at OUTPUT (nothing else)."
    ),
    click.option("--force-overwrite", is_flag=True, help=FORCE_OVERWRITE_HELP),
)

progress_option = click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
