"""Groups of click options shared by several commands, applied as one decorator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def with_options(*options: Callable[[Callable[..., None]], Callable[..., None]]) -> Callable[..., Any]:
    """One decorator that adds ``options`` in the order given (as they appear in --help)."""

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate
