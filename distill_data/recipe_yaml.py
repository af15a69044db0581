"""Recipe YAML with YAML 1.2 booleans: only ``true``/``false`` are booleans.

YAML 1.1 (PyYAML's default) also reads yes/no/on/off as booleans, so ``eval_strategy: no`` would reach TRL as
``False`` and a quoted-looking ``yes`` would switch a flag on. Here they stay strings, and a boolean field given
one of them is refused by the recipe checks rather than guessed.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_BOOL_TAG = "tag:yaml.org,2002:bool"


class _Loader(yaml.SafeLoader):
    """A SafeLoader (plain values only) whose booleans are YAML 1.2's."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_yaml(text: str) -> Any:
    """Parse recipe YAML (raises ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=_Loader)
