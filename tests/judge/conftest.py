"""Fixtures for judge tests: a local OpenAI-compatible server and configs pointing at it."""

from __future__ import annotations

import pytest

from rewardsmith.core.pipeline import Reward
from rewardsmith.judge import JudgeConfig
from rewardsmith.judge.scripted import OpenAIServer


@pytest.fixture(scope="session")
def _server_process():
    server = OpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def openai_server(_server_process: OpenAIServer) -> OpenAIServer:
    """The shared test server, with its script and records cleared for this test."""
    _server_process.reset()
    yield _server_process
    _server_process.reset()


@pytest.fixture
def judge_config(openai_server: OpenAIServer, tmp_path):
    """A config for the test server with small timeouts and backoff; override fields
    with keyword arguments."""

    def make(**overrides) -> JudgeConfig:
        fields = {
            "base_url": openai_server.base_url,
            "model": "test-model",
            "api_key": "test-key",
            "timeout_seconds": 2.0,
            "max_retries": 2,
            "backoff_seconds": 0.01,
            "max_backoff_seconds": 0.2,
            "cache_path": tmp_path / "judge_cache.sqlite",
        }
        fields.update(overrides)
        return JudgeConfig(**fields)

    return make


@pytest.fixture
def build_judge_reward(judge_config):
    """Build a reward from a judge component's spec, with `judge:` pointing at the test
    server (override its fields with `judge`); every reward is closed after the test."""
    built: list[Reward] = []

    def make(spec: dict, judge: dict | None = None) -> Reward:
        settings = judge_config(**(judge or {})).model_dump(mode="json")
        reward = Reward.from_spec({**spec, "judge": settings})
        built.append(reward)
        return reward

    yield make
    for reward in built:
        reward.close()
