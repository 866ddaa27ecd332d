"""Fixtures that open each state backend on fresh, empty state (Redis: the session's
test server, see `redis_url` in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from rewardsmith.state import StateStore, open_store

BACKENDS = ("memory", "sqlite", "redis")
SHARED_BACKENDS = ("sqlite", "redis")  # state visible to other store objects and processes


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
