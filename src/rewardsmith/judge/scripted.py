"""A scripted judge: a real HTTP server speaking the OpenAI chat-completions protocol.

Used by the tests, by the probe benchmark's naive judge, and to record the rubric
example's cache: everything a judge component does goes over real HTTP to it, exactly
as it would to vLLM or OpenAI, but the answers are decided by a Python function.

It listens on 127.0.0.1 at an ephemeral port in a background thread and answers
POST /v1/chat/completions. What it does per request is scripted:

- `server.on(prompt, *replies)` queues replies for requests whose last user message is
  `prompt`; they are used in order, then the default answer takes over;
- `server.behaviour` (a function of the request body) decides the rest; by default
  `Reply.answer()`, whose text is a deterministic function of the last user message.

Every request body is recorded in `server.requests`; `server.max_in_flight` is the most
requests handled at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def echo_text(body: dict[str, Any]) -> str:
    return f"echo: {last_user(body)}"


def last_user(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            return str(message.get("content"))
    return ""


def count_words(body: dict[str, Any]) -> int:
    return sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))


@dataclass
class Reply:
    """One scripted reply: an answer (`text`, or the echo when None), an HTTP error
    `status`, or a `raw` body; sent after `delay` seconds."""

    text: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    delay: float = 0.0

    @classmethod
    def answer(cls, text: str | None = None, delay: float = 0.0) -> Reply:
        return cls(text=text, delay=delay)

    @classmethod
    def slow(cls, seconds: float) -> Reply:
        return cls(delay=seconds)

    @classmethod
    def error(cls, status: int, retry_after: str | None = None) -> Reply:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return cls(status=status, headers=headers)

    @classmethod
    def broken_body(cls) -> Reply:
        return cls(raw=b'{"id": "x", "choices": [')


class OpenAIServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.behaviour: Callable[[dict[str, Any]], Reply] = lambda body: Reply.answer()
        self.max_in_flight = 0
        self._in_flight = 0
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> OpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def on(self, prompt: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[prompt].extend(replies)

    def calls_for(self, prompt: str) -> int:
        with self._lock:
            return sum(1 for body in self.requests if last_user(body) == prompt)

    def reset(self, drain_seconds: float = 3.0) -> None:
        """Forget the script and the records, after waiting for requests still being
        handled (a slow reply whose client gave up) so they cannot leak into the next test."""
        deadline = time.monotonic() + drain_seconds
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        with self._lock:
            self.requests.clear()
            self._scripts.clear()
            self.max_in_flight = 0
        self.behaviour = lambda body: Reply.answer()

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            script = self._scripts.get(last_user(body))
            if script:
                return script.popleft()
        return self.behaviour(body)

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1


def _handler_for(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            payload = self.rfile.read(length)
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                body = json.loads(payload)
            except ValueError:
                self._send(400, {"error": {"message": "body is not JSON"}})
                return
            reply = server._next_reply(body)
            try:
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.raw is not None:
                    self._send_bytes(200, reply.raw, {})
                elif reply.status != 200:
                    message = {"message": f"scripted {reply.status}", "type": "server_error"}
                    self._send(reply.status, {"error": message}, reply.headers)
                else:
                    self._send(200, _completion(body, reply))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout)
            finally:
                server._done()

        def _send(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
            self._send_bytes(status, json.dumps(obj).encode(), headers or {})

        def _send_bytes(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

    return Handler


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    text = reply.text if reply.text is not None else echo_text(body)
    prompt_tokens = count_words(body)
    completion_tokens = len(text.split())
    return {
        "id": f"chatcmpl-{len(text)}-{prompt_tokens}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "test-model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
