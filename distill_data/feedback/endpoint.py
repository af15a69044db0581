"""Where a model is served: ``NAME@URL[#KEY_VAR]``, an OpenAI-compatible chat-completions endpoint.

``NAME`` is the model name sent in every request (and written to the data), ``URL`` the server's base URL
(``http://localhost:8000/v1``; ``/chat/completions`` is appended unless the URL already ends with it) and
``KEY_VAR`` the name of the environment variable that holds the API key. Only that name is ever recorded:
the key itself goes into the ``Authorization`` header and nowhere else.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError

CHAT_PATH = "/chat/completions"
_SPEC = re.compile(r"(?P<name>.+?)@(?P<url>https?://[^\s#]+)(?:#(?P<env>[A-Za-z_][A-Za-z0-9_]*))?")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Endpoint:
    """A model name and the server that answers for it."""

    name: str
    base_url: str
    api_key_env: str | None = None

    @property
    def url(self) -> str:
        return self.base_url if self.base_url.endswith(CHAT_PATH) else self.base_url + CHAT_PATH

    def api_key(self) -> str | None:
        """The key from the environment, or None when the endpoint needs none."""
        if self.api_key_env is None:
            return None
        value = os.environ.get(self.api_key_env)
        if not value:
            raise ConfigError(f"model {self.name}: environment variable {self.api_key_env} (its API key) is not set")
        return value

    def describe(self) -> dict[str, Any]:
        """For provenance and cards: the key's variable name, never its value."""
        return {"name": self.name, "endpoint": self.base_url, "api_key_env": self.api_key_env}


def parse_endpoint(spec: str, option: str = "--model", default_key_env: str | None = None) -> Endpoint:
    """``NAME@URL[#KEY_VAR]`` -> :class:`Endpoint`; ``default_key_env`` applies when no ``#KEY_VAR`` is given."""
    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        raise ConfigError(
            f"{option} {spec!r}: expected NAME@URL[#KEY_VAR], e.g. "
            "meta-llama/Llama-3.1-8B-Instruct@http://localhost:8000/v1 or gpt-4o@https://api.openai.com/v1#OPENAI_API_KEY"
        )
    name, url = match["name"].strip(), match["url"].rstrip("/")
    parts = urlsplit(url)
    if parts.username or parts.password:
        # Never echo the spec here: it holds a secret.
        raise ConfigError(
            f"{option} {name}: the URL carries credentials; put the key in an environment variable and name it "
            "with #KEY_VAR (it is then never written anywhere)"
        )
    if not parts.hostname:
        raise ConfigError(f"{option} {spec!r}: the URL has no host")
    key_env = match["env"] or default_key_env
    if key_env is not None and not _ENV_NAME.fullmatch(key_env):
        raise ConfigError(f"--api-key-env {key_env!r}: not an environment variable name")
    return Endpoint(name, url, key_env)


def parse_endpoints(specs: tuple[str, ...] | list[str], option: str, default_key_env: str | None) -> list[Endpoint]:
    """Several endpoints; a model named twice is an error (use --n-per-model for more samples)."""
    endpoints = [parse_endpoint(spec, option, default_key_env) for spec in specs]
    seen: set[str] = set()
    for endpoint in endpoints:
        if endpoint.name in seen:
            raise ConfigError(f"{option}: model {endpoint.name!r} is given twice (use --n-per-model for more samples)")
        seen.add(endpoint.name)
    return endpoints
