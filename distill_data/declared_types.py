"""Check a recipe value against the type its dataclass declares, and say in the recipe's words what was expected.

YAML gives no other check: ``"false"`` is a string, and a non-empty string is truthy. Two policies:
:func:`check_value` (strict, our own steps' parameters: every field, Literal values must match) and
:func:`check_library_fields` (lenient, a library's dataclasses: only booleans and numbers, Literal string choices
left to the library). Standard library only, so the trainer uses it without importing the data pipeline.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, Literal

from .errors import ConfigError

_NONE = type(None)
_WORDS = {bool: "true or false (YAML boolean)", int: "an integer", float: "a number", str: "a string", _NONE: "null"}


@functools.cache
def field_hints(cls: type) -> dict[str, Any]:
    """The declared type of each init field. A library annotation that does not resolve leaves only that field
    unchecked (``get_type_hints`` fails for the whole class on one bad name)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # a library's annotation we cannot resolve; the library still checks that field when it runs
        hints = {f.name: f.type for f in dataclasses.fields(cls) if not isinstance(f.type, str)}
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init and f.name in hints}


def default_hints(function: Callable[..., Any]) -> dict[str, type]:
    """For parameters without annotations (BitsAndBytesConfig): a boolean or number default declares the type."""
    parameters = inspect.signature(function).parameters.values()
    return {p.name: type(p.default) for p in parameters if type(p.default) in (bool, int, float)}


def check_value(value: Any, hint: Any, name: str) -> None:
    """Strict: refuse a value ``hint`` does not admit, naming it; Literal values must be one of the choices."""
    if not matches(value, hint):
        raise ConfigError(f"{name} must be {describe(hint)}, got {shown(value)}")


def check_library_fields(section: dict[str, Any], hints: dict[str, Any], prefix: str = "") -> None:
    """Lenient: check only fields whose declared type is built of plain scalars and includes a boolean or number
    (what YAML silently gets wrong); anything looser, and Literal string choices, are the library's to check."""
    for key, value in section.items():
        parts = members(hints[key]) if key in hints else ()
        if not parts or not all(map(_checkable, parts)) or not any(map(_scalar, parts)):
            continue  # undeclared, too loose (Any, dict, enums, classes) or a string field: left to the library
        if not matches(value, hints[key], lenient=True):
            raise ConfigError(f"{prefix}{key} must be {describe(hints[key], lenient=True)}, got {shown(value)}")


def members(hint: Any) -> tuple[Any, ...]:
    """``int | None`` -> ``(int, NoneType)``; ``Optional[Union[...]]`` flattened."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(member for arg in typing.get_args(hint) for member in members(arg))
    return (hint,)


def items(hint: Any) -> tuple[Any, ...]:
    """The member types of a ``list[...]``/``tuple[...]`` element; empty for anything else."""
    args = [arg for arg in typing.get_args(hint) if arg is not Ellipsis]
    return tuple(member for arg in args for member in members(arg))


def matches(value: Any, hint: Any, *, lenient: bool = False) -> bool:
    """Does ``hint`` admit ``value``? ``lenient``: a string passes any Literal with a string choice, and a list
    field takes only a list (YAML's); strict takes a tuple too (a step built in Python)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, member, lenient=lenient) for member in members(hint))
    if origin is Literal:
        choices = typing.get_args(hint)
        if not lenient:
            return value in choices
        if isinstance(value, str):  # peft's 'pissa_niter_[number of iters]' stands for many strings
            return any(isinstance(choice, str) for choice in choices)
        return any(type(choice) is type(value) and choice == value for choice in choices)
    if origin in (list, tuple):
        element = items(hint) or (Any,)
        return isinstance(value, list if lenient else (list, tuple)) and all(
            any(matches(v, member, lenient=lenient) for member in element) for v in value
        )
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is _NONE:
        return value is None
    return isinstance(value, hint)


def describe(hint: Any, *, lenient: bool = False) -> str:
    """The expected type in words. Strict keeps the Python names its messages have always used (``int or null``,
    ``one of 'keep', 'drop'``); lenient says ``an integer``, ``a number`` and lists Literal choices with ``or``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(dict.fromkeys(describe(member, lenient=lenient) for member in members(hint)))
    if origin is Literal:
        choices = typing.get_args(hint)
        if lenient:
            return " or ".join(repr(choice) if isinstance(choice, str) else shown(choice) for choice in choices)
        return "one of " + ", ".join(map(repr, choices))
    if origin in (list, tuple):
        element = " or ".join(dict.fromkeys(describe(member, lenient=lenient) for member in items(hint)))
        return f"a list of {element or 'values'}"
    if lenient:
        return _WORDS.get(hint, "null")
    if hint in (bool, _NONE):
        return _WORDS[hint]
    return getattr(hint, "__name__", str(hint))


def shown(value: Any) -> str:
    """A value as the recipe's author wrote it: ``the string 'false'``, ``true``, ``null``, ``1.5``."""
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return repr(value)


def _checkable(member: Any) -> bool:
    """Is this member plain enough to check for a library (scalars, None, Literal, lists of those)?"""
    origin = typing.get_origin(member)
    if origin is Literal:
        return True
    if origin in (list, tuple):
        return bool(items(member)) and all(map(_checkable, items(member)))
    return member in (bool, int, float, str, _NONE)


def _scalar(member: Any) -> bool:
    """Does this member declare a boolean or a number (what YAML can silently get wrong)?"""
    origin = typing.get_origin(member)
    if origin is Literal:
        return any(not isinstance(arg, str) for arg in typing.get_args(member))
    if origin in (list, tuple):
        return any(map(_scalar, items(member)))
    return member in (bool, int, float)
