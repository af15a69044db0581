"""The shell every command shares: errors become one line and an exit code, and no command group imports cli.py."""

from __future__ import annotations

import errno

import click
import pytest
from click.testing import CliRunner
from test_architecture import import_graph

from distill_data.cli_shell import reports_errors
from distill_data.errors import ConfigError, InputError


def failing(exc: BaseException) -> click.Command:
    @click.command()
    @reports_errors
    def command() -> None:
        raise exc

    return command


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (ConfigError("--seed: not a number"), 2, "error: --seed: not a number\n"),
        (InputError("not JSON", file="a.jsonl", location="line 3"), 1, "error: a.jsonl, line 3: not JSON\n"),
        (KeyboardInterrupt(), 130, "interrupted: nothing was written\n"),
        (PermissionError(errno.EACCES, "denied", "out/x"), 1, "error: out/x: Permission denied\n"),
        (OSError(errno.ENOSPC, "full"), 1, "error: No space left on device\n"),
    ],
)
def test_our_errors_become_one_line_and_an_exit_code(exc: BaseException, code: int, message: str) -> None:
    result = CliRunner().invoke(failing(exc), [])
    assert (result.exit_code, result.stderr) == (code, message)


def test_other_errors_keep_their_traceback() -> None:
    result = CliRunner().invoke(failing(OSError(errno.EIO, "io")), [])
    assert isinstance(result.exception, OSError) and result.exception.errno == errno.EIO


def test_no_module_of_a_subpackage_imports_the_cli_group() -> None:
    """The command groups share cli_shell; cli.py imports them, never the other way round (lazy imports too)."""
    graph = import_graph()
    subpackage_modules = [name for name in graph if name.count(".") >= 2]
    assert "distill_data.feedback.commands" in subpackage_modules
    assert [name for name in subpackage_modules if "distill_data.cli" in graph[name]] == []
