"""Shared test helpers: a tiny component whose value is read from the sample's meta, and
a Redis server for the tests that share state.

Redis is the server at $REWARDSMITH_TEST_REDIS (scripts/run_tests.sh starts one). When
that is unset, a redis-server on PATH is started for the session; without one the Redis
tests are skipped, or fail when $CI is "true".
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

import rewardsmith.api  # noqa: F401  (registers the built-in components)
from rewardsmith.core.component import InvalidSample, Params, SampleComponent
from rewardsmith.core.config import REGISTRY, register
from rewardsmith.core.types import Sample, Score

TEST_REDIS_VAR = "REWARDSMITH_TEST_REDIS"


class MetaValueParams(Params):
    key: str = "value"


if "meta_value" not in REGISTRY:

    @register("meta_value")
    class MetaValue(SampleComponent):
        """Test component: the reward is `meta[key]`; `meta.crash` makes it raise."""

        Params = MetaValueParams
        params: MetaValueParams

        def score_sample(self, sample: Sample) -> Score:
            if sample.meta.get("crash"):
                raise RuntimeError("verifier crashed")
            if self.params.key not in sample.meta:
                raise InvalidSample(f"meta.{self.params.key}: missing; expected a number")
            return Score(float(sample.meta[self.params.key]), info={"key": self.params.key})


def samples_with(*metas: dict) -> list[dict]:
    return [{"prompt": "p", "completion": "c", "meta": meta} for meta in metas]


@pytest.fixture
def meta_samples():
    return samples_with


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 15
    try:
        while process.poll() is None and time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
    finally:
        client.close()
    raise RuntimeError(f"redis-server at {url} did not answer (exit status {process.poll()})")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Redis server that the tests may flush."""
    if os.environ.get(TEST_REDIS_VAR):
        yield os.environ[TEST_REDIS_VAR]
        return
    binary = shutil.which("redis-server")
    if binary is None:
        reason = f"no redis-server on PATH and ${TEST_REDIS_VAR} is unset"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must test the Redis backend")
        pytest.skip(reason)
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(workdir)]
    command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        _wait_for(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
