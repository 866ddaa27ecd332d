"""JudgeBackend against a real local OpenAI-compatible HTTP server."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import ValidationError

from rewardsmith.judge import ChatRequest, ChatStatus, JudgeBackend, JudgeConfig
from rewardsmith.judge.scripted import Reply


def ask(backend: JudgeBackend, *prompts: str, **kwargs) -> list:
    return asyncio.run(backend.complete_many([ChatRequest.user(p, **kwargs) for p in prompts]))


def test_batch_results_in_order(judge_config, openai_server):
    backend = JudgeBackend(judge_config())
    prompts = [f"question {i}" for i in range(6)]
    results = ask(backend, *prompts)
    assert [r.text for r in results] == [f"echo: {p}" for p in prompts]
    assert all(r.status is ChatStatus.OK and r.error is None for r in results)
    assert all(r.attempts == 1 and not r.cached for r in results)
    assert len(openai_server.requests) == 6
    body = openai_server.requests[0]
    assert body["model"] == "test-model" and body["temperature"] == 0.0


def test_concurrency_is_bounded(judge_config, openai_server):
    openai_server.behaviour = lambda body: Reply.answer(delay=0.1)
    backend = JudgeBackend(judge_config(max_concurrency=3))
    results = ask(backend, *[f"q{i}" for i in range(12)])
    assert all(r.ok for r in results)
    assert 2 <= openai_server.max_in_flight <= 3


def test_identical_requests_are_sent_once(judge_config, openai_server):
    backend = JudgeBackend(judge_config(cache_path=None))
    results = ask(backend, "same", "other", "same", "same")
    assert openai_server.calls_for("same") == 1
    assert len(openai_server.requests) == 2
    assert results[0].text == results[2].text == results[3].text == "echo: same"
    assert results[0] is not results[2]
    assert backend.stats.deduplicated == 2


def test_retries_429_and_500_then_success(judge_config, openai_server):
    openai_server.on("flaky", Reply.error(429, retry_after="0"), Reply.error(500))
    backend = JudgeBackend(judge_config(max_retries=2))
    [flaky, fine] = ask(backend, "flaky", "fine")
    assert flaky.ok and flaky.text == "echo: flaky" and flaky.attempts == 3
    assert fine.ok and fine.attempts == 1
    assert openai_server.calls_for("flaky") == 3
    stats = backend.stats.snapshot()
    assert stats.retries == 2 and stats.calls == 4 and stats.failures == 0


def test_retry_after_is_honoured_up_to_the_cap(judge_config, openai_server):
    openai_server.on("busy", Reply.error(429, retry_after="5"))
    backend = JudgeBackend(judge_config(backoff_seconds=0.0, max_backoff_seconds=0.3))
    started = time.perf_counter()
    [result] = ask(backend, "busy")
    elapsed = time.perf_counter() - started
    assert result.ok and result.attempts == 2
    assert elapsed >= 0.25  # it waited (about the cap) ...
    assert elapsed < 5  # ... and not the 5 s the server asked for


def test_each_result_carries_the_time_the_judge_took_on_it(judge_config, openai_server):
    """`seconds`: its attempts, from sending to the answer; not the backoff between
    attempts, and 0 when the answer comes from the cache."""
    openai_server.on("slow", Reply.answer(delay=0.4))
    openai_server.on("retried", Reply.error(429, retry_after="0.5"), Reply.answer())
    backend = JudgeBackend(judge_config(backoff_seconds=0.0, max_backoff_seconds=1.0))
    started = time.perf_counter()
    slow, quick, retried = ask(backend, "slow", "quick", "retried")
    elapsed = time.perf_counter() - started
    assert slow.seconds >= 0.4 and 0 < quick.seconds < slow.seconds
    assert retried.attempts == 2 and 0 < retried.seconds <= elapsed - 0.5
    again = ask(backend, "slow")[0]
    assert again.cached and again.seconds == 0.0


def test_persistent_failure_is_an_error_result(judge_config, openai_server):
    openai_server.on("doomed", *[Reply.error(500)] * 3)
    openai_server.on("refused", Reply.error(400))
    backend = JudgeBackend(judge_config(max_retries=2))
    results = ask(backend, "a", "doomed", "refused", "b")
    doomed, refused = results[1], results[2]
    assert doomed.status is ChatStatus.ERROR and doomed.text is None
    assert "500" in doomed.error and doomed.attempts == 3
    assert refused.status is ChatStatus.ERROR and "400" in refused.error
    assert refused.attempts == 1  # a client error is not retried
    assert [results[0].text, results[3].text] == ["echo: a", "echo: b"]
    assert backend.stats.failures == 2


def test_timeout_after_retries(judge_config, openai_server):
    openai_server.on("slow", Reply.slow(0.6), Reply.slow(0.6))
    backend = JudgeBackend(judge_config(timeout_seconds=0.2, max_retries=1))
    started = time.perf_counter()
    [slow, quick] = ask(backend, "slow", "quick")
    assert time.perf_counter() - started < 1.0
    assert slow.status is ChatStatus.TIMEOUT and slow.attempts == 2 and slow.text is None
    assert "timed out" in slow.error
    assert quick.ok


def test_unreadable_response_body_is_an_error_result(judge_config, openai_server):
    openai_server.on("garbled", Reply.broken_body())
    backend = JudgeBackend(judge_config())
    [garbled, fine] = ask(backend, "garbled", "fine")
    assert garbled.status is ChatStatus.ERROR and garbled.error
    assert fine.ok


def test_connection_refused_is_retried_then_an_error(tmp_path):
    config = JudgeConfig(
        base_url="http://127.0.0.1:9/v1",
        model="m",
        max_retries=1,
        backoff_seconds=0.01,
        timeout_seconds=2,
        cache_path=tmp_path / "c.sqlite",
    )
    [result] = ask(JudgeBackend(config), "anyone there?")
    assert result.status is ChatStatus.ERROR and result.attempts == 2
    assert "connection" in result.error.lower()


def test_cache_survives_a_new_backend(judge_config, openai_server):
    prompts = ["alpha", "beta", "gamma"]
    first = ask(JudgeBackend(judge_config()), *prompts)
    assert len(openai_server.requests) == 3

    backend = JudgeBackend(judge_config())
    second = ask(backend, *prompts)
    assert len(openai_server.requests) == 3  # no new HTTP call
    assert [r.text for r in second] == [r.text for r in first]
    assert all(r.cached and r.attempts == 0 for r in second)
    assert [r.prompt_tokens for r in second] == [r.prompt_tokens for r in first]
    stats = backend.stats.snapshot()
    assert stats.cache_hits == 3 and stats.calls == 0
    assert stats.prompt_tokens == 0 and stats.completion_tokens == 0  # not paid again


def test_cache_is_independent_of_base_url(judge_config, openai_server):
    ask(JudgeBackend(judge_config()), "portable")
    other_url = openai_server.base_url.replace("127.0.0.1", "localhost")
    [result] = ask(JudgeBackend(judge_config(base_url=other_url)), "portable")
    assert result.cached and openai_server.calls_for("portable") == 1


@pytest.mark.parametrize(
    "change", [{"temperature": 0.7}, {"seed": 7}, {"max_tokens": 32}, {"model": "other-model"}]
)
def test_different_parameters_miss_the_cache(judge_config, openai_server, change):
    ask(JudgeBackend(judge_config()), "prompt")
    [result] = ask(JudgeBackend(judge_config(**change)), "prompt")
    assert not result.cached and openai_server.calls_for("prompt") == 2
    body = openai_server.requests[-1]
    for name, value in change.items():
        assert body[name] == value


def test_schema_is_sent_and_keys_the_cache(judge_config, openai_server):
    schema = {"type": "object", "properties": {"score": {"type": "number"}}}
    backend = JudgeBackend(judge_config())
    ask(backend, "rate this")
    [result] = ask(backend, "rate this", json_schema=schema)
    assert not result.cached and openai_server.calls_for("rate this") == 2
    response_format = openai_server.requests[-1]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"] == schema


def test_failures_are_not_cached(judge_config, openai_server):
    openai_server.on("unlucky", Reply.error(503))
    [failed] = ask(JudgeBackend(judge_config(max_retries=0)), "unlucky")
    assert failed.status is ChatStatus.ERROR
    [result] = ask(JudgeBackend(judge_config(max_retries=0)), "unlucky")
    assert result.ok and not result.cached
    assert openai_server.calls_for("unlucky") == 2


def test_no_cache_file_when_disabled(judge_config, openai_server, tmp_path):
    backend = JudgeBackend(judge_config(cache_path=None))
    ask(backend, "x")
    ask(backend, "x")
    assert openai_server.calls_for("x") == 2
    assert list(tmp_path.iterdir()) == []


def test_token_accounting_sums_usage(judge_config, openai_server):
    openai_server.on("two words", Reply.answer("one two three"))
    backend = JudgeBackend(judge_config(cache_path=None))
    results = ask(backend, "two words", "a b c d")
    # the test server counts words: prompt = words of the messages, completion = of the text
    assert [(r.prompt_tokens, r.completion_tokens) for r in results] == [(2, 3), (4, 5)]
    ask(backend, "solo")
    stats = backend.stats.snapshot()
    assert stats.prompt_tokens == 2 + 4 + 1
    assert stats.completion_tokens == 3 + 5 + 2
    assert stats.calls == 3 and stats.wall_seconds > 0
    assert stats.as_dict()["calls"] == 3


def test_sync_wrapper_with_and_without_a_running_loop(judge_config, openai_server):
    backend = JudgeBackend(judge_config())
    [plain] = backend.complete_many_sync([ChatRequest.user("from sync")])
    assert plain.text == "echo: from sync"

    async def inside_a_loop():
        return backend.complete_many_sync([ChatRequest.user("from a loop")])

    [nested] = asyncio.run(inside_a_loop())
    assert nested.text == "echo: from a loop"


def test_empty_batch(judge_config, openai_server):
    assert ask(JudgeBackend(judge_config())) == []
    assert openai_server.requests == []


def test_config_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REWARDSMITH_JUDGE_BASE_URL", "http://judge.internal:8000/v1")
    monkeypatch.setenv("REWARDSMITH_JUDGE_MODEL", "qwen-judge")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = JudgeConfig()
    assert config.base_url == "http://judge.internal:8000/v1"
    assert config.model == "qwen-judge"
    assert config.api_key == "EMPTY"
    assert config.max_concurrency == 16 and config.max_retries == 4
    assert config.timeout_seconds == 60 and config.backoff_seconds == 0.5
    assert config.temperature == 0.0 and config.seed is None
    assert str(config.cache_path) == ".rewardsmith/judge_cache.sqlite"
    assert "EMPTY" not in repr(config)

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert JudgeConfig().api_key == "sk-test"
    assert JudgeConfig(model="explicit").model == "explicit"


def test_config_errors_name_the_missing_setting(monkeypatch):
    monkeypatch.delenv("REWARDSMITH_JUDGE_BASE_URL", raising=False)
    monkeypatch.delenv("REWARDSMITH_JUDGE_MODEL", raising=False)
    with pytest.raises(ValidationError, match="REWARDSMITH_JUDGE_BASE_URL"):
        JudgeConfig(model="m")
    with pytest.raises(ValidationError, match="REWARDSMITH_JUDGE_MODEL"):
        JudgeConfig(base_url="http://x/v1")
    with pytest.raises(ValidationError, match="max_concurrency"):
        JudgeConfig(base_url="http://x/v1", model="m", max_concurrency=0)
    with pytest.raises(ValidationError, match="unknown_key"):
        JudgeConfig(base_url="http://x/v1", model="m", unknown_key=1)


def test_request_validation():
    with pytest.raises(ValidationError):
        ChatRequest(messages=[])
    with pytest.raises(ValidationError, match="role"):
        ChatRequest(messages=[{"content": "hi"}])
    request = ChatRequest.user("q", system="be strict")
    assert [m["role"] for m in request.messages] == ["system", "user"]
