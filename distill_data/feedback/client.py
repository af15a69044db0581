"""Async OpenAI-compatible chat completions: bounded concurrency, retries with backoff, a cache in front.

At most ``concurrency`` requests are in flight. 429, 408, 5xx, timeouts, transport errors and malformed
replies are retried up to ``max_retries`` times, waiting ``backoff * 2**attempt`` seconds with full jitter
(and at least what ``Retry-After`` asks); the slot is held while waiting, so a rate-limited server sees
fewer requests, not more. 401, 403 and 404 stop the run (a wrong key, URL or model name helps no one if
retried); other 4xx fail the one request. The API key goes into the ``Authorization`` header only, and is
masked out of any error text that echoes it.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import ConfigError, DistillDataError
from .cache import Answer, AnswerCache, request_key
from .endpoint import Endpoint
from .usage import Ledger

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
FATAL_STATUSES = frozenset({401, 403, 404})
MAX_RETRY_AFTER = 300.0
_jitter = random.Random()  # timing only: never affects what is written


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request."""

    max_retries: int = 5
    backoff: float = 1.0  # seconds before the first retry; doubled each time, with full jitter
    max_backoff: float = 60.0
    timeout: float = 600.0  # seconds for one request


class RequestFailed(DistillDataError):
    """A request that failed for good: after its retries, or with a status that retrying cannot fix."""

    def __init__(self, endpoint: Endpoint, reason: str) -> None:
        self.model = endpoint.name
        self.reason = reason
        super().__init__(f"model {endpoint.name} at {endpoint.url}: {reason}")


class EndpointRefused(ConfigError):
    """401, 403 or 404: the key, the URL or the model name is wrong; the run stops."""


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class ChatClient:
    """Chat completions for many endpoints through one connection pool, one cache and one ledger."""

    def __init__(
        self,
        *,
        concurrency: int = 8,
        policy: RetryPolicy | None = None,
        cache: AnswerCache | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.cache = cache
        self.ledger = ledger or Ledger()
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: dict[str, asyncio.Future[Answer]] = {}
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(self.policy.timeout),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            trust_env=False,
        )

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def complete(self, endpoint: Endpoint, body: dict[str, Any]) -> Answer:
        """The answer to ``body`` (which names the model): from the cache, or from the endpoint and then cached."""
        usage = self.ledger[endpoint.name]
        key = request_key(body)
        answer = self.cache.get(key) if self.cache is not None else None
        if answer is None and key in self._in_flight:
            answer = await asyncio.shield(self._in_flight[key])
        if answer is not None:
            usage.cache_hits += 1
        else:
            future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
            self._in_flight[key] = future
            try:
                answer = await self._fetch(endpoint, body, key)
            except BaseException as exc:
                future.set_exception(exc)
                future.exception()  # retrieved: waiters re-raise it, nobody else needs to
                raise
            else:
                future.set_result(answer)
            finally:
                del self._in_flight[key]
        usage.answers += 1
        usage.tokens_in += answer.tokens_in
        usage.tokens_out += answer.tokens_out
        return answer

    async def _fetch(self, endpoint: Endpoint, body: dict[str, Any], key: str) -> Answer:
        usage = self.ledger[endpoint.name]
        secret = endpoint.api_key()
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        async with self._slots:
            for attempt in range(self.policy.max_retries + 1):
                if attempt:
                    usage.retries += 1
                usage.requests += 1
                try:
                    answer = await self._post(endpoint, body, headers, secret)
                except _Retryable as problem:
                    if attempt == self.policy.max_retries:
                        usage.failed += 1
                        raise RequestFailed(endpoint, f"{problem} (gave up after {attempt + 1} attempts)") from None
                    await asyncio.sleep(self._delay(attempt, problem.retry_after))
                    continue
                except RequestFailed:
                    usage.failed += 1
                    raise
                usage.billed_tokens_in += answer.tokens_in
                usage.billed_tokens_out += answer.tokens_out
                if self.cache is not None:
                    self.cache.put(key, endpoint.name, answer)  # committed before the slot is freed
                return answer
        raise AssertionError("unreachable")

    async def _post(
        self, endpoint: Endpoint, body: dict[str, Any], headers: dict[str, str], secret: str | None
    ) -> Answer:
        try:
            response = await self._http.post(endpoint.url, json=body, headers=headers)
        except httpx.TimeoutException:
            raise _Retryable(f"no answer within {self.policy.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection problem: {_mask(str(exc) or type(exc).__name__, secret)}") from None
        status = response.status_code
        if status == 200:
            try:
                return _answer(response.json())
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise _Retryable(f"malformed reply ({exc}): {_snippet(response.text, secret)}") from None
        reason = f"HTTP {status}: {_snippet(response.text, secret)}"
        if status in RETRY_STATUSES or status >= 500:
            raise _Retryable(reason, _retry_after(response.headers.get("retry-after")))
        if status in FATAL_STATUSES:
            hint = f" (check {endpoint.api_key_env})" if status in (401, 403) and endpoint.api_key_env else ""
            raise EndpointRefused(f"model {endpoint.name} at {endpoint.url}: {reason}{hint}")
        raise RequestFailed(endpoint, reason)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = _jitter.uniform(0, min(self.policy.max_backoff, self.policy.backoff * 2**attempt))
        return max(delay, retry_after or 0.0)


def _answer(payload: Any) -> Answer:
    choice = payload["choices"][0]
    content = choice["message"].get("content") or ""
    if not isinstance(content, str):
        raise TypeError(f"message.content is {type(content).__name__}")
    # A JSON "\ud800" escape gives a lone surrogate, which neither UTF-8 nor Arrow can store.
    content = content.encode("utf-8", "replace").decode("utf-8")
    usage = payload.get("usage") or {}
    return Answer(
        content=content,
        tokens_in=int(usage.get("prompt_tokens") or 0),
        tokens_out=int(usage.get("completion_tokens") or 0),
        finish_reason=choice.get("finish_reason"),
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), capped."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _mask(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _snippet(text: str, secret: str | None, limit: int = 300) -> str:
    text = _mask(" ".join(text.split()), secret)
    return text if len(text) <= limit else text[:limit] + "…"
