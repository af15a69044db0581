"""The console script's entry point: Ctrl-C while the command is still importing its libraries (polars, pyarrow,
datasets take seconds) exits 130 with one line, like Ctrl-C later, instead of a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        sys.exit(130)
    run()
