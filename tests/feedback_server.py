"""A scripted OpenAI-compatible chat-completions server on a local port, for exact tests of generate and rate.

Every request is recorded (body, Authorization header, the status it got), so a test can count what was sent.
A request is answered by the next reply of the first script whose ``when`` matches its body, else by the
responder (by default :func:`default_reply`: a deterministic completion, or UltraFeedback-style ratings for a
judge request). A reply can be a status with a body, a delay (to make the client time out), or held until
:meth:`ScriptedServer.release` (to kill a client mid-run).

    with ScriptedServer() as server:
        server.script([Reply(status=429, headers={"Retry-After": "0"})])
        ...  # point an endpoint at server.url
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Body = dict[str, Any]
TEXT = re.compile(r"<text (\d+)>\n(.*?)\n</text \1>", re.DOTALL)


@dataclass
class Reply:
    """What the server answers to one request."""

    content: str | None = None  # the assistant message of a 200 completion
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # a raw body instead of a completion (errors, malformed JSON)


@dataclass
class Request:
    body: Body
    authorization: str | None
    status: int | None = None  # what it was answered (None: never answered)


def words(text: str) -> int:
    return len(text.split())


def is_judge(body: Body) -> bool:
    return any("<text 1>" in message["content"] for message in body["messages"])


def judged_texts(body: Body) -> list[str]:
    """The responses a judge request asks about, in order."""
    return [text for _, text in TEXT.findall(body["messages"][1]["content"])]


def rating_of(text: str) -> int:
    """A deterministic rating of a response: 1..5 from its sha256."""
    return 1 + hashlib.sha256(text.encode()).digest()[0] % 5


def ultrafeedback_answer(ratings: list[str], rationale: str = "Because.") -> str:
    return "\n\n".join(
        f"#### Output for Text {number}\nRating: {rating}\nRationale: {rationale} ({number})"
        for number, rating in enumerate(ratings, start=1)
    )


def default_reply(body: Body) -> Reply:
    """A completion that names the model, the seed and the prompt; or ratings, for a judge request."""
    if is_judge(body):
        return Reply(ultrafeedback_answer([str(rating_of(text)) for text in judged_texts(body)]))
    prompt = body["messages"][-1]["content"]
    return Reply(f"{body['model']} (seed {body.get('seed')}) answers: {prompt[:60]}")


class ScriptedServer:
    """The server, in a thread; use it as a context manager."""

    def __init__(self, responder: Callable[[Body], Reply] = default_reply) -> None:
        self.responder = responder
        self.requests: list[Request] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._scripts: list[tuple[Callable[[Body], bool], list[Reply]]] = []
        self._lock = threading.Lock()
        self._hold_after: int | None = None
        self._released = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._httpd.shutdown()
        self._httpd.server_close()

    def script(self, replies: list[Reply], when: Callable[[Body], bool] = lambda body: True) -> None:
        """Answer the next requests that match ``when`` with ``replies``, in order."""
        with self._lock:
            self._scripts.append((when, list(replies)))

    def hold_after(self, answered: int) -> None:
        """Answer the first ``answered`` requests from now on; hold every later one until :meth:`release`."""
        with self._lock:
            self._hold_after = len(self.requests) + answered
            self._released.clear()

    def release(self) -> None:
        with self._lock:
            self._hold_after = None
        self._released.set()

    def reset(self) -> None:
        """Forget the requests seen so far (scripts stay)."""
        with self._lock:
            self.requests = []
            self.max_in_flight = 0

    @property
    def bodies(self) -> list[Body]:
        with self._lock:
            return [request.body for request in self.requests]

    def _reply_for(self, body: Body) -> tuple[Reply, bool]:
        """The reply, and whether to hold it."""
        with self._lock:
            hold = self._hold_after is not None and len(self.requests) > self._hold_after
            for when, replies in self._scripts:
                if replies and when(body):
                    return replies.pop(0), hold
        return self.responder(body), hold

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                request = Request(body, self.headers.get("Authorization"))
                with server._lock:
                    server.requests.append(request)
                    server._in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server._in_flight)
                try:
                    reply, hold = server._reply_for(body)
                    if hold:
                        server._released.wait(60)
                    if reply.delay:
                        time.sleep(reply.delay)
                    self._send(request, reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout, or it was killed)
                finally:
                    with server._lock:
                        server._in_flight -= 1

            def _send(self, request: Request, reply: Reply) -> None:
                if reply.body is not None:
                    payload = reply.body.encode()
                elif reply.status == 200:
                    content = reply.content or ""
                    prompt_words = sum(words(message["content"]) for message in request.body["messages"])
                    payload = json.dumps(
                        {
                            "id": "chatcmpl-test",
                            "object": "chat.completion",
                            "model": request.body["model"],
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": content},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": {"prompt_tokens": prompt_words, "completion_tokens": words(content)},
                        }
                    ).encode()
                else:
                    payload = json.dumps({"error": {"message": f"scripted {reply.status}"}}).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                request.status = reply.status  # before the reply is out: a client that has it sees it recorded
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    request.status = None
                    raise

        return Handler
