"""Judge backend: chat completions from any OpenAI-compatible server (vLLM, SGLang, OpenAI).

`JudgeBackend.complete_many` sends a batch of `ChatRequest`s through the `openai` SDK's
`AsyncOpenAI` client and returns one `ChatResult` per request, in order:

- at most `max_concurrency` requests are in flight at once (per event loop);
- identical requests in one batch are sent once;
- 429, 408, 5xx, timeouts and connection errors are retried with exponential backoff and
  jitter (a server's Retry-After is honoured up to `max_backoff_seconds`); the SDK's own
  retries are off, so `max_retries` is the only retry budget;
- a request that still fails becomes a result with `status` and `error` text: no
  exception escapes a batch;
- successful answers are kept in a SQLite cache (`judge/cache.py`), so a new backend on
  the same file does not pay for them again;
- `stats` adds up calls, cache hits, deduplicated requests, retries, tokens and time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import os
import random
import threading
import time
import weakref
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rewardsmith.judge.cache import CachedAnswer, JudgeCache

if TYPE_CHECKING:
    import openai

ENV_BASE_URL = "REWARDSMITH_JUDGE_BASE_URL"
ENV_MODEL = "REWARDSMITH_JUDGE_MODEL"
ENV_API_KEY = "OPENAI_API_KEY"
DEFAULT_CACHE_PATH = ".rewardsmith/judge_cache.sqlite"
CACHE_KEY_VERSION = 1
RETRYABLE_STATUS = frozenset({408, 429})


class JudgeConfig(BaseModel):
    """Where the judge lives and how to call it. Unknown keys are errors.

    `base_url` and `model` fall back to REWARDSMITH_JUDGE_BASE_URL and
    REWARDSMITH_JUDGE_MODEL, `api_key` to OPENAI_API_KEY and then "EMPTY" (what vLLM and
    SGLang accept). `cache_path=None` turns the persistent cache off. With
    `structured_output=False` no response_format is sent (for servers without JSON-schema
    support); answers are then read by the tolerant parser alone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(
        default_factory=lambda: os.environ.get(ENV_BASE_URL, ""), validate_default=True
    )
    model: str = Field(default_factory=lambda: os.environ.get(ENV_MODEL, ""), validate_default=True)
    api_key: str = Field(default_factory=lambda: os.environ.get(ENV_API_KEY) or "EMPTY", repr=False)
    max_concurrency: int = Field(16, ge=1)
    timeout_seconds: float = Field(60.0, gt=0)
    max_retries: int = Field(4, ge=0)
    backoff_seconds: float = Field(0.5, ge=0)
    max_backoff_seconds: float = Field(30.0, ge=0)
    temperature: float = Field(0.0, ge=0)
    seed: int | None = None
    max_tokens: int | None = Field(None, ge=1)
    cache_path: Path | None = Path(DEFAULT_CACHE_PATH)
    structured_output: bool = True  # send the JSON schema as response_format

    @field_validator("base_url")
    @classmethod
    def _base_url_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(f"missing; set judge base_url or the {ENV_BASE_URL} variable")
        return value.strip()

    @field_validator("model")
    @classmethod
    def _model_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(f"missing; set judge model or the {ENV_MODEL} variable")
        return value.strip()


class ChatRequest(BaseModel):
    """One chat completion: the messages and, for structured output, a JSON schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: list[dict[str, Any]] = Field(min_length=1)
    json_schema: dict[str, Any] | None = None
    schema_name: str = "answer"

    @field_validator("messages")
    @classmethod
    def _messages_have_roles(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, message in enumerate(messages):
            if "role" not in message or "content" not in message:
                raise ValueError(f"messages[{i}]: expected keys 'role' and 'content'")
        return messages

    @classmethod
    def user(cls, text: str, system: str | None = None, **kwargs: Any) -> ChatRequest:
        """A request of one user message, after an optional system message."""
        messages = [{"role": "system", "content": system}] if system is not None else []
        messages.append({"role": "user", "content": text})
        return cls(messages=messages, **kwargs)


class ChatStatus(StrEnum):
    OK = "ok"
    TIMEOUT = "timeout"  # every attempt ran out of time
    ERROR = "error"  # the server refused or failed, or the answer was not usable
    UNPARSEABLE = "unparseable"  # set by callers whose structured answer failed to parse


@dataclass
class ChatResult:
    """What became of one request. `text` is None unless `status` is ok.

    A cached result carries the token counts of the call that paid for it; those are not
    added to `JudgeStats` again.
    """

    text: str | None
    status: ChatStatus = ChatStatus.OK
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    attempts: int = 0
    # the time the judge took on it: its attempts, from sending to the answer (not the
    # wait for a free connection, nor the backoff between attempts; 0 when cached)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is ChatStatus.OK


@dataclass
class JudgeStats:
    """Running totals of one backend. `calls` counts HTTP requests, retries included;
    tokens count only answers paid for (not cache hits)."""

    calls: int = 0
    cache_hits: int = 0
    deduplicated: int = 0
    retries: int = 0
    failures: int = 0
    cache_errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_seconds: float = 0.0
    _lock: threading.Lock = field(
        default_factory=threading.Lock, repr=False, compare=False, init=False
    )

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> JudgeStats:
        """A copy of the totals now, safe to keep while the backend goes on."""
        with self._lock:
            return JudgeStats(**self.as_dict())

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}


class JudgeBackend:
    """Batches of chat completions against one OpenAI-compatible server and model."""

    def __init__(self, config: JudgeConfig) -> None:
        self.config = config
        self.stats = JudgeStats()
        self.cache = JudgeCache(config.cache_path) if config.cache_path is not None else None
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._semaphores = weakref.WeakKeyDictionary()
        self._semaphores_lock = threading.Lock()

    def cache_key(self, request: ChatRequest) -> str:
        """sha256 of the canonical JSON of everything that decides the answer."""
        cfg = self.config
        material = {
            "v": CACHE_KEY_VERSION,
            "model": cfg.model,
            "messages": request.messages,
            "temperature": cfg.temperature,
            "seed": cfg.seed,
            "max_tokens": cfg.max_tokens,
            "json_schema": self._schema(request),
            "schema_name": request.schema_name if self._schema(request) is not None else None,
        }
        canonical = json.dumps(
            material, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    async def complete_many(self, requests: list[ChatRequest]) -> list[ChatResult]:
        """One result per request, in order. Never raises for a failed request."""
        started = time.perf_counter()
        try:
            return await self._complete_many(requests)
        finally:
            self.stats.add(wall_seconds=time.perf_counter() - started)

    def complete_many_sync(self, requests: list[ChatRequest]) -> list[ChatResult]:
        """`complete_many` for synchronous callers: runs on a new event loop in this thread,
        or, when this thread already runs a loop, in a worker thread (blocking the caller)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.complete_many(requests))
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="judge") as pool:
            return pool.submit(asyncio.run, self.complete_many(requests)).result()

    def usage(self) -> dict[str, float]:
        """The running totals, named for a batch summary (`judge_calls`, ...)."""
        return {f"judge_{name}": amount for name, amount in self.stats.snapshot().as_dict().items()}

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> JudgeBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------

    async def _complete_many(self, requests: list[ChatRequest]) -> list[ChatResult]:
        keys = [self.cache_key(r) for r in requests]
        first: dict[str, int] = {}  # key -> index of its first request
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        self.stats.add(deduplicated=len(keys) - len(first))

        results: dict[str, ChatResult] = {}
        if self.cache is not None and first:
            hits = await asyncio.to_thread(self.cache.get_many, list(first))
            for key, answer in hits.items():
                results[key] = ChatResult(
                    answer.text,
                    prompt_tokens=answer.prompt_tokens,
                    completion_tokens=answer.completion_tokens,
                    cached=True,
                )
            self.stats.add(cache_hits=len(hits))

        todo = [(key, requests[i]) for key, i in first.items() if key not in results]
        if todo:
            import openai  # here, so that loading a reward does not pay for importing it

            semaphore = self._semaphore()
            async with openai.AsyncOpenAI(
                base_url=self.config.base_url,
                api_key=self.config.api_key,
                timeout=self.config.timeout_seconds,
                max_retries=0,
            ) as client:
                fresh = await asyncio.gather(
                    *(self._one(client, semaphore, key, request) for key, request in todo)
                )
            results.update(zip((key for key, _ in todo), fresh, strict=True))

        out: list[ChatResult] = []
        for i, key in enumerate(keys):
            result = results[key]
            out.append(result if first[key] == i else replace(result))
        return out

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        with self._semaphores_lock:
            semaphore = self._semaphores.get(loop)
            if semaphore is None:
                semaphore = asyncio.Semaphore(self.config.max_concurrency)
                self._semaphores[loop] = semaphore
            return semaphore

    async def _one(
        self,
        client: openai.AsyncOpenAI,
        semaphore: asyncio.Semaphore,
        key: str,
        request: ChatRequest,
    ) -> ChatResult:
        try:
            result = await self._attempts(client, semaphore, request)
        except Exception as exc:  # a bug here must not lose the batch
            result = ChatResult(None, ChatStatus.ERROR, f"{type(exc).__name__}: {exc}")
        if result.ok:
            self.stats.add(
                prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens
            )
            if self.cache is not None and result.text is not None:
                answer = CachedAnswer(result.text, result.prompt_tokens, result.completion_tokens)
                try:
                    await asyncio.to_thread(self.cache.put, key, answer)
                except Exception:  # an unwritable cache costs money later, not this answer
                    self.stats.add(cache_errors=1)
        else:
            self.stats.add(failures=1)
        return result

    async def _attempts(
        self, client: openai.AsyncOpenAI, semaphore: asyncio.Semaphore, request: ChatRequest
    ) -> ChatResult:
        import openai

        cfg = self.config
        kwargs = self._create_kwargs(request)
        attempt, spent = 0, 0.0
        while True:
            attempt += 1
            retry_after: float | None = None
            self.stats.add(calls=1)
            try:
                async with semaphore:  # the timeout starts once the request is sent
                    sent = time.perf_counter()
                    try:
                        async with asyncio.timeout(cfg.timeout_seconds):
                            response = await client.chat.completions.create(**kwargs)
                    finally:
                        spent += time.perf_counter() - sent
            except (TimeoutError, openai.APITimeoutError):
                status = ChatStatus.TIMEOUT
                error = f"timed out after {cfg.timeout_seconds:g}s"
            except openai.APIStatusError as exc:
                status, error = ChatStatus.ERROR, f"HTTP {exc.status_code}: {exc.message}"
                if exc.status_code not in RETRYABLE_STATUS and exc.status_code < 500:
                    result = ChatResult(None, status, error, attempts=attempt)
                    break
                retry_after = _retry_after(exc.response.headers)
            except openai.APIConnectionError as exc:
                status, error = ChatStatus.ERROR, f"connection error: {exc}"
            except openai.OpenAIError as exc:  # e.g. a response body that is not JSON
                error = f"{type(exc).__name__}: {exc}"
                result = ChatResult(None, ChatStatus.ERROR, error, attempts=attempt)
                break
            else:
                result = _read_response(response, attempt)
                break

            if attempt > cfg.max_retries:
                if attempt > 1:
                    error = f"{error} (after {attempt} attempts)"
                result = ChatResult(None, status, error, attempts=attempt)
                break
            self.stats.add(retries=1)
            await asyncio.sleep(self._delay(attempt, retry_after))
        result.seconds = spent
        return result

    def _create_kwargs(self, request: ChatRequest) -> dict[str, Any]:
        cfg = self.config
        kwargs: dict[str, Any] = {
            "model": cfg.model,
            "messages": request.messages,
            "temperature": cfg.temperature,
        }
        if cfg.seed is not None:
            kwargs["seed"] = cfg.seed
        if cfg.max_tokens is not None:
            kwargs["max_tokens"] = cfg.max_tokens
        if self._schema(request) is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.json_schema},
            }
        return kwargs

    def _schema(self, request: ChatRequest) -> dict[str, Any] | None:
        return request.json_schema if self.config.structured_output else None

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        cfg = self.config
        backoff = cfg.backoff_seconds * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)
        if retry_after is not None:
            backoff = max(backoff, retry_after)
        return min(backoff, cfg.max_backoff_seconds)


def _read_response(response: Any, attempts: int) -> ChatResult:
    choices = getattr(response, "choices", None) or []
    text = choices[0].message.content if choices and choices[0].message else None
    if text is None:
        return ChatResult(
            None, ChatStatus.ERROR, "the answer has no text content", attempts=attempts
        )
    usage = getattr(response, "usage", None)
    return ChatResult(
        text,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        attempts=attempts,
    )


def _retry_after(headers: Any) -> float | None:
    """Seconds the server asked us to wait (retry-after-ms or retry-after in seconds)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue  # an HTTP date: fall back to our own backoff
        if seconds >= 0:
            return seconds
    return None
