"""Errors the CLI reports as one clear line instead of a traceback."""

from __future__ import annotations


class DistillDataError(Exception):
    """Base class: a problem with the user's data or configuration (CLI exit 1)."""


class InputError(DistillDataError):
    """Bad input data, located by file, line or row, and field.

    ``location`` reads like ``"line 12"`` (JSON Lines) or ``"row 3"`` (JSON arrays, Parquet, Hub).
    """

    def __init__(
        self, message: str, *, file: str | None = None, location: str | None = None, field: str | None = None
    ) -> None:
        self.reason = message
        self.file = file
        self.location = location
        self.field = field
        super().__init__(self.describe())

    def describe(self) -> str:
        where = ", ".join(part for part in (self.file, self.location) if part)
        field = f"field '{self.field}': " if self.field else ""
        return f"{where}: {field}{self.reason}" if where else f"{field}{self.reason}"


class ConfigError(DistillDataError):
    """An invalid recipe, processor parameter or option (CLI exit 2, like a usage error)."""


class ContractError(ConfigError):
    """A pipeline step reads a column that no earlier step or the source provides."""


class MissingPackageError(DistillDataError):
    """A step needs a package that is not installed (named, with its ``pip install``)."""


class OutputError(DistillDataError):
    """The output folder cannot be written (exists without --overwrite, not writable...)."""
