"""Push a dataset folder to the Hugging Face Hub in one commit.

data/, README.md, provenance.json and assets/ go up in a single ``create_commit``, together with the
deletion of remote data/ and assets/ files that the folder no longer has, so the remote is either the
old dataset or the new one, never a mix. Transient HTTP errors (429, 5xx, connection problems) are
retried with exponential backoff. The token comes from ``HF_TOKEN`` or the stored login and is never
printed, logged or written anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .dataset_folder import ASSETS, CARD, DATA, PROVENANCE, DatasetFolder
from .errors import DistillDataError
from .provenance import read_provenance

UPLOADED_FOLDERS = (DATA, ASSETS)
UPLOADED_FILES = (CARD, PROVENANCE)
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
T = TypeVar("T")


class HubError(DistillDataError):
    """A push that cannot be done: no token, no write access, an incomplete folder, a failed request."""


@dataclass
class PushResult:
    repo_id: str
    revision: str
    files: list[tuple[str, int]]
    deleted: list[str] = field(default_factory=list)
    commit_url: str | None = None
    dry_run: bool = False


def files_to_push(folder: Path) -> list[tuple[str, Path]]:
    """``(path in repo, local path)`` of everything a push uploads; refuses an incomplete folder."""
    if not folder.is_dir():
        raise HubError(f"{folder}: no such folder")
    missing = [name for name in UPLOADED_FILES if not (folder / name).is_file()]
    if missing:
        raise HubError(f"{folder}: not a complete distill-data output (missing {', '.join(missing)})")
    try:
        provenance = read_provenance(folder)
        splits = provenance["splits"]
    except (ValueError, KeyError, TypeError) as exc:
        raise HubError(f"{DatasetFolder(folder).provenance}: not a distill-data provenance record ({exc})") from None
    for split, rows in splits.items():
        if rows and not DatasetFolder(folder).has_split(split):
            raise HubError(f"{folder}: not a complete distill-data output (no data file for split {split})")
    files = [(name, folder / name) for name in UPLOADED_FILES]
    for sub in UPLOADED_FOLDERS:
        for path in sorted((folder / sub).rglob("*")):
            if path.is_file():
                files.append((path.relative_to(folder).as_posix(), path))
    return files


def push(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
    dry_run: bool = False,
    token: str | None = None,
    retries: int = 5,
    backoff: float = 1.0,
) -> PushResult:
    """Upload a dataset folder written by this toolkit to ``repo_id`` (created when missing) in one commit."""
    folder = Path(folder)
    files = files_to_push(folder)
    sizes = [(name, path.stat().st_size) for name, path in files]
    branch = revision or "main"
    if dry_run:
        return PushResult(repo_id, branch, sizes, dry_run=True)

    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants, get_token
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    if constants.HF_HUB_OFFLINE:
        raise HubError("HF_HUB_OFFLINE=1 is set: a push needs the Hub (unset it to push)")
    token = token or get_token()
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN or log in with `hf auth login`")
    api = HfApi(token=token)
    _check_write_access(api, retries, backoff)

    def call(operation: Callable[[], T]) -> T:
        return _retrying(operation, retries, backoff)

    call(lambda: api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True))
    if branch != "main":
        call(lambda: api.create_branch(repo_id, repo_type="dataset", branch=branch, exist_ok=True))
    try:
        remote = call(lambda: api.list_repo_files(repo_id, repo_type="dataset", revision=branch))
    except (RepositoryNotFoundError, RevisionNotFoundError):
        remote = []
    local = {name for name, _ in files}
    stale = sorted(p for p in remote if p.split("/", 1)[0] in UPLOADED_FOLDERS and p not in local)
    operations: list[Any] = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path)) for name, path in files]
    operations += [CommitOperationDelete(path_in_repo=p) for p in stale]
    message = commit_message or f"Upload {read_provenance(folder)['command']} dataset with distill-data"
    info = call(
        lambda: api.create_commit(repo_id, operations, commit_message=message, repo_type="dataset", revision=branch)
    )
    return PushResult(repo_id, branch, sizes, stale, commit_url=str(info.commit_url))


def _check_write_access(api: Any, retries: int, backoff: float) -> None:
    """The first request: a Hub that does not answer at all (no network, a wrong HF_ENDPOINT) fails at once; a
    busy one (429, 5xx) is retried like any other request."""
    who = _retrying(
        api.whoami,
        retries,
        backoff,
        refused="the Hugging Face token was rejected (HTTP {status}): log in again or set HF_TOKEN",
        retry_unreachable=False,
    )
    role = ((who.get("auth") or {}).get("accessToken") or {}).get("role")
    if role == "read":
        raise HubError("the Hugging Face token is read-only: push needs a token with write access")


def _retrying(
    operation: Callable[[], T],
    retries: int,
    backoff: float,
    refused: str = "the Hub refused the request (HTTP {status}): does the token have write access to this repository?",
    retry_unreachable: bool = True,
) -> T:
    """Run ``operation``, retrying transient failures with exponential backoff (a connection that fails, only
    where ``retry_unreachable``); others raise :class:`HubError`."""
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    for attempt in range(retries + 1):
        try:
            return operation()
        except (RepositoryNotFoundError, RevisionNotFoundError):
            raise
        except HfHubHTTPError as exc:
            status = _status(exc)
            if status in RETRY_STATUSES and attempt < retries:
                time.sleep(backoff * 2**attempt)
                continue
            if status in (401, 403):
                raise HubError(refused.format(status=status)) from None
            raise HubError(f"the Hub request failed: {_describe(exc)}") from None
        except Exception as exc:
            if not _is_transport_error(exc):
                raise
            if attempt < retries and retry_unreachable:
                time.sleep(backoff * 2**attempt)
                continue
            raise HubError(f"could not reach the Hub: {exc.__class__.__name__}: {exc}") from None
    raise AssertionError("unreachable")


def _is_transport_error(exc: Exception) -> bool:
    """A connection or timeout problem, whichever HTTP library this huggingface_hub version uses."""
    return isinstance(exc, OSError) or any(cls.__name__ == "TransportError" for cls in type(exc).__mro__)


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _describe(exc: Exception) -> str:
    """The first line of a Hub error (the URL and the server's message; never request headers)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
