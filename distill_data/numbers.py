"""Floats as written to outputs: rounded to significant digits, so a file does not depend on the machine.

numpy's ``power``, ``log10`` and sums may differ in the last bits between CPUs (SIMD kernels, summation order),
and ``json`` writes every bit. Six significant digits keep far more precision than any plot or card needs and
drop those bits, so the same data gives the same bytes on every machine.
"""

from __future__ import annotations

from typing import Any

DIGITS = 6


def significant(x: float, digits: int = DIGITS) -> float:
    """``x`` rounded to ``digits`` significant digits (nan and infinities unchanged)."""
    return float(f"{x:.{digits}g}")


def rounded(value: Any, digits: int = DIGITS) -> Any:
    """``value`` with every float inside its dicts, lists and tuples rounded by :func:`significant`."""
    if isinstance(value, float):
        return significant(value, digits)
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(item, digits) for item in value]
    return value
