"""Admission control, body size limits and per-request deadlines.

`LimitsMiddleware` runs in front of the app. Any request whose declared Content-Length
is over the limit gets 413 at once. A scoring request (a POST to one of the admitted
paths) must first get one of the worker's `max_queue` admission slots, else it gets 429
with `Retry-After`; nothing queues beyond that, so memory stays bounded under overload.
An admitted request's body is read here, chunk by chunk, and cut off with 413 once it
passes the limit (a chunked body has no Content-Length to check up front) or with 408
when it has not arrived by the request's deadline. The handler then scores under the
same deadline (`Deadline.run`, 504 when it passes; the scoring is cancelled, and with it
every check it started, see serve/scoring.py).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rewardsmith.serve.errors import ApiError

T = TypeVar("T")
DEADLINE_KEY = "rewardsmith.deadline"
SMOOTHING = 0.2  # weight of the newest request in the running mean of time in the queue


class Admission:
    """At most `limit` requests admitted (waiting or being scored) at once in this worker."""

    def __init__(self, limit: int, on_change: Callable[[int], None]) -> None:
        self.limit = limit
        self.depth = 0
        self._on_change = on_change
        self._mean_seconds = 1.0

    def enter(self) -> bool:
        if self.depth >= self.limit:
            return False
        self.depth += 1
        self._on_change(self.depth)
        return True

    def leave(self, seconds: float) -> None:
        self.depth -= 1
        self._on_change(self.depth)
        self._mean_seconds += SMOOTHING * (seconds - self._mean_seconds)

    def retry_after(self) -> int:
        """Whole seconds a rejected client should wait: about one request's time here."""
        return max(1, math.ceil(self._mean_seconds))


@dataclass(frozen=True)
class Deadline:
    """When an admitted request must be answered (event-loop time), and its budget."""

    at: float
    seconds: float

    async def run(self, work: Awaitable[T]) -> T:
        """`work`'s result, or ApiError(504) once the deadline passes (`work` is cancelled)."""
        timeout = asyncio.timeout_at(self.at)
        try:
            async with timeout:
                return await work
        except TimeoutError:
            if not timeout.expired():
                raise
        raise ApiError(
            504,
            f"deadline: scoring did not finish within {self.seconds:g} s "
            "(the server's --deadline-seconds); the batch was abandoned",
        )


def deadline_of(scope: Scope) -> Deadline:
    return scope[DEADLINE_KEY]


class LimitsMiddleware:
    """Body size limit for every request; admission and deadline for scoring requests."""

    def __init__(
        self,
        app: ASGIApp,
        admission: Admission,
        admitted_paths: frozenset[str],
        max_body_bytes: int,
        deadline_seconds: float,
    ) -> None:
        self.app = app
        self.admission = admission
        self.admitted_paths = admitted_paths
        self.max_body_bytes = max_body_bytes
        self.deadline_seconds = deadline_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large().response()(scope, receive, send)
            return
        if scope["method"] != "POST" or scope["path"] not in self.admitted_paths:
            await self.app(scope, receive, send)
            return
        if not self.admission.enter():
            retry = {"Retry-After": str(self.admission.retry_after())}
            message = f"busy: {self.admission.limit} requests already queued in this worker"
            await ApiError(429, f"{message}; retry later", retry).response()(scope, receive, send)
            return
        started = time.monotonic()
        try:
            await self._admitted(scope, receive, send)
        finally:
            self.admission.leave(time.monotonic() - started)

    async def _admitted(self, scope: Scope, receive: Receive, send: Send) -> None:
        deadline = Deadline(
            asyncio.get_running_loop().time() + self.deadline_seconds, self.deadline_seconds
        )
        scope[DEADLINE_KEY] = deadline
        try:
            body = await self._read_body(receive, deadline.at)
        except ApiError as exc:
            await exc.response()(scope, receive, send)
            return
        if body is not None:  # None: the client went away
            await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive, deadline: float) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        raise self._too_large()
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            raise ApiError(
                408, f"body: not received within the {self.deadline_seconds:g} s deadline"
            ) from None

    def _too_large(self) -> ApiError:
        return ApiError(
            413,
            f"body: larger than the server's limit of {self.max_body_bytes} bytes "
            "(--max-body-bytes); send smaller batches",
        )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then the client's events."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed
