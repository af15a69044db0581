"""Telling a Hub id from a local path, and failing in seconds when the Hub cannot be reached.

A spec that looks like a path (a data file suffix, a leading ``./``, ``../``, ``/`` or ``~``, more than one
slash) is never sent to the Hub, so a mistyped path is "no such file or folder" at once rather than a minute of
network retries that end up blaming the Hub. Before loading from the Hub, one request without retries tells
whether it answers at all: the libraries' own retries take half a minute or more to give up on a dead network.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import socket

# Suffixes of data files (and the compressions of them): a spec ending in one names a file, not a repo.
DATA_FILE_SUFFIXES = (
    ".jsonl",
    ".json",
    ".parquet",
    ".csv",
    ".tsv",
    ".txt",
    ".arrow",
    ".feather",
    ".gz",
    ".bz2",
    ".xz",
    ".zst",
    ".zip",
    ".tar",
    ".lz4",
)
OFFLINE_MISS = "cannot reach the Hugging Face Hub (offline: HF_HUB_OFFLINE=1), and it is not in the local cache"
_PART = r"\w(?:[\w.-]*\w)?"  # as on the Hub: word characters, "." and "-", not first or last
_ID = re.compile(rf"^(?:(?P<owner>{_PART})/)?(?P<name>{_PART})(?::(?P<split>[\w.-]+))?$")


def looks_like_hub_id(spec: str, *, split: bool = True, bare: bool = False) -> bool:
    """Whether ``spec`` is a Hub id: ``owner/name``, or ``owner/name:split`` where ``split``; a plain ``name`` (a
    legacy model id such as ``gpt2``) only where ``bare``. Never a path: one slash at most, no leading ``./``,
    ``../``, ``/`` or ``~``, and no data file suffix (``samples/chat.jsonl`` is a file that is missing).

    >>> [looks_like_hub_id(s) for s in ("HuggingFaceH4/ultrachat_200k", "org/data:test", "data/chat.jsonl")]
    [True, True, False]
    >>> [looks_like_hub_id(s) for s in ("./org/data", "a/b/c", "~/data", "gpt2")], looks_like_hub_id("gpt2", bare=True)
    ([False, False, False, False], True)
    """
    match = _ID.match(spec)
    if match is None or (match["owner"] is None and not bare) or (match["split"] is not None and not split):
        return False
    return not match["name"].lower().endswith(DATA_FILE_SUFFIXES)


def hub_unreachable(repo_id: str, repo_type: str = "dataset") -> str | None:
    """Why the Hub cannot be reached for ``repo_id``, found with one request and no retries; None when it
    answered (whatever it said: loading reports that in its own words) or in offline mode (the local cache may
    hold the repo; :func:`offline_failure` explains a miss)."""
    from huggingface_hub import HfApi, constants

    if constants.HF_HUB_OFFLINE:
        return None
    try:
        HfApi().repo_info(repo_id, repo_type=repo_type, timeout=constants.HF_HUB_ETAG_TIMEOUT)
    except _transport_errors() as exc:
        detail = str(exc) or type(exc).__name__
        return (
            f"cannot reach the Hugging Face Hub at {constants.ENDPOINT} (connection failed: {detail}); "
            "set HF_HUB_OFFLINE=1 to use a copy in the local cache"
        )
    except Exception:  # the Hub answered (no such repo, gated, ...): loading says so in its own words
        return None
    return None


def offline_failure(exc: BaseException) -> str | None:
    """The one-line reason when loading failed because offline mode kept it from the Hub, else None."""
    from huggingface_hub import constants
    from huggingface_hub.errors import LocalEntryNotFoundError

    if not constants.HF_HUB_OFFLINE:
        return None
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        # OfflineModeIsEnabled is a ConnectionError; `datasets` names it in a ConnectionError of its own
        if isinstance(error, (ConnectionError, LocalEntryNotFoundError)):
            return OFFLINE_MISS
        error = error.__cause__ or error.__context__
    return None


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The errors of a request that got no answer, of whichever HTTP client huggingface_hub uses."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError, socket.gaierror]
    for module, names in (("httpx2", ("TransportError",)), ("httpx", ("TransportError",)), ("requests", _REQUESTS)):
        with contextlib.suppress(ImportError):
            imported = importlib.import_module(module)
            errors.extend(getattr(imported, name) for name in names)
    return tuple(errors)


_REQUESTS = ("ConnectionError", "Timeout")  # huggingface_hub before 1.0
