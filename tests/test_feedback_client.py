"""The chat-completions client against a scripted local server: retries, backoff, timeouts, cache, concurrency."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from feedback_server import Reply, ScriptedServer

from distill_data.feedback.cache import AnswerCache
from distill_data.feedback.client import ChatClient, EndpointRefused, RequestFailed, RetryPolicy
from distill_data.feedback.endpoint import Endpoint
from distill_data.feedback.usage import Ledger

FAST = RetryPolicy(max_retries=3, backoff=0.01, timeout=5.0)


def body(prompt: str = "Why is the sky blue?", model: str = "m", **params: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], "temperature": 0.0, **params}


def ask(server_url: str, *bodies: dict[str, Any], policy: RetryPolicy = FAST, **client: Any) -> tuple[list, Ledger]:
    """Send ``bodies`` concurrently; return the answers (or exceptions) and the ledger."""
    ledger = Ledger()
    endpoint = Endpoint("m", server_url, client.pop("key_env", None))

    async def run() -> list:
        async with ChatClient(policy=policy, ledger=ledger, **client) as chat:
            return await asyncio.gather(*(chat.complete(endpoint, b) for b in bodies), return_exceptions=True)

    return asyncio.run(run()), ledger


@pytest.fixture
def server():
    with ScriptedServer() as scripted:
        yield scripted


def test_429_then_success_honours_retry_after(server: ScriptedServer) -> None:
    server.script([Reply(status=429, headers={"Retry-After": "0.4"})])
    started = time.monotonic()
    (answer,), ledger = ask(server.url, body())
    assert time.monotonic() - started >= 0.4  # waited what the server asked, not the 0.01 s backoff
    assert answer.content == "m (seed None) answers: Why is the sky blue?"
    assert [r.status for r in server.requests] == [429, 200]
    usage = ledger["m"]
    assert (usage.requests, usage.retries, usage.failed, usage.answers) == (2, 1, 0, 1)
    assert usage.tokens_out == len(answer.content.split()) and usage.tokens_in == 5


def test_5xx_and_malformed_replies_are_retried(server: ScriptedServer) -> None:
    server.script([Reply(status=503), Reply(status=502), Reply(body="<html>proxy error</html>"), Reply(body="{}")])
    (answer,), ledger = ask(server.url, body(), policy=RetryPolicy(max_retries=4, backoff=0.01))
    assert answer.content.endswith("Why is the sky blue?")
    assert [r.status for r in server.requests] == [503, 502, 200, 200, 200]
    assert ledger["m"].retries == 4


def test_a_timeout_is_retried(server: ScriptedServer) -> None:
    server.script([Reply("too late", delay=2.0)])
    started = time.monotonic()
    (answer,), ledger = ask(server.url, body(), policy=RetryPolicy(max_retries=2, backoff=0.01, timeout=0.3))
    assert time.monotonic() - started < 1.9
    assert answer.content != "too late" and ledger["m"].requests == 2 and ledger["m"].retries == 1


def test_giving_up_after_the_retries(server: ScriptedServer) -> None:
    server.script([Reply(status=500)] * 10)
    (failure,), ledger = ask(server.url, body(), policy=RetryPolicy(max_retries=2, backoff=0.01))
    assert isinstance(failure, RequestFailed)
    assert "HTTP 500" in str(failure) and "gave up after 3 attempts" in str(failure)
    assert len(server.requests) == 3 and ledger["m"].failed == 1 and ledger["m"].answers == 0


def test_a_bad_request_fails_at_once_and_a_wrong_key_stops_the_run(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script([Reply(status=400)])
    (failure,), _ = ask(server.url, body())
    assert isinstance(failure, RequestFailed) and "HTTP 400" in str(failure) and len(server.requests) == 1

    monkeypatch.setenv("FEEDBACK_TEST_KEY", "sk-test-0123456789")
    echo = '{"error": {"message": "Incorrect API key provided: sk-test-0123456789"}}'
    server.script([Reply(status=401, body=echo)])
    (refused,), _ = ask(server.url, body("other"), key_env="FEEDBACK_TEST_KEY")
    assert isinstance(refused, EndpointRefused)  # a ConfigError: exit 2, no retries
    assert len(server.requests) == 2 and server.requests[1].authorization == "Bearer sk-test-0123456789"
    assert "HTTP 401" in str(refused) and "check FEEDBACK_TEST_KEY" in str(refused)
    assert "sk-test-0123456789" not in str(refused) and "Incorrect API key provided: ***" in str(refused)


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (failure,), ledger = ask(f"http://127.0.0.1:{port}/v1", body(), policy=RetryPolicy(max_retries=1, backoff=0.01))
    assert isinstance(failure, RequestFailed) and "connection problem" in str(failure)
    assert ledger["m"].requests == 2


def test_the_cache_answers_repeats_whatever_the_server(server: ScriptedServer, tmp_path: Path) -> None:
    cache = AnswerCache(tmp_path / "cache")
    (first,), _ = ask(server.url, body(), cache=cache)
    (again, _), ledger = ask(server.url, body(), body(seed=1), cache=cache)
    assert again == first and len(server.requests) == 2  # only the new seed was sent
    assert ledger["m"].cache_hits == 1 and ledger["m"].requests == 1 and ledger["m"].answers == 2
    assert ledger["m"].tokens_in == 10 and ledger["m"].billed_tokens_in == 5  # used vs paid for by this run
    with ScriptedServer() as elsewhere:  # the same model behind another URL: the key has no URL in it
        (moved,), _ = ask(elsewhere.url, body(), cache=cache)
        assert moved == first and elsewhere.requests == []
    cache.close()
    reopened = AnswerCache(tmp_path / "cache")
    assert len(reopened) == 2
    reopened.close()


def test_identical_requests_in_flight_are_sent_once(server: ScriptedServer) -> None:
    server.script([Reply("slow", delay=0.3)])
    answers, ledger = ask(server.url, body(), body(), body())
    assert [a.content for a in answers] == ["slow"] * 3
    assert len(server.requests) == 1 and ledger["m"].cache_hits == 2


def test_concurrency_is_bounded(server: ScriptedServer) -> None:
    server.script([Reply("x", delay=0.1)] * 12)
    answers, ledger = ask(server.url, *(body(f"prompt {i}") for i in range(12)), concurrency=3)
    assert all(a.content == "x" for a in answers)
    assert server.max_in_flight == 3 and ledger["m"].requests == 12
