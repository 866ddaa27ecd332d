"""Fixtures that open each state backend on fresh, empty state.

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
from pathlib import Path

import pytest
import redis

from rewardsmith.state import StateStore, open_store

BACKENDS = ("memory", "sqlite", "redis")
SHARED_BACKENDS = ("sqlite", "redis")  # state visible to other store objects and processes
TEST_REDIS_VAR = "REWARDSMITH_TEST_REDIS"


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


def _url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'state.sqlite'}"
    url = request.getfixturevalue("redis_url")
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty store of `backend`; memory:// opens a new store each time."""
    return _url(backend, request, tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    with open_store(store_url) as opened:
        yield opened


@pytest.fixture(params=SHARED_BACKENDS)
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty store whose state other store objects and processes see."""
    return _url(request.param, request, tmp_path)
