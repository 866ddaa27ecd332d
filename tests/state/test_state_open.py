"""open_store: URL forms, the default location, and clear errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rewardsmith.state import ENV_VAR, MemoryStore, SqliteStore, Update, open_store
from rewardsmith.state.redis import RedisStore


def test_memory_urls_open_separate_stores() -> None:
    with open_store("memory://") as first, open_store("memory://") as second:
        assert isinstance(first, MemoryStore)
        first.apply([Update("s", "p", add={"n": 1})])
        assert second.scan("s") == {}


def test_sqlite_url_with_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///runs/a b/state.sqlite") as store:
        assert isinstance(store, SqliteStore)
        store.apply([Update("s", "p", add={"n": 1})])
    path = tmp_path / "runs" / "a b" / "state.sqlite"
    assert path.is_file()
    assert store.url == f"sqlite:///{path}"  # absolute, so that other processes can reopen it
    monkeypatch.chdir("/")
    with open_store(store.url) as reopened:
        assert reopened.scan("s") == {"p": {"n": 1.0}}


def test_sqlite_url_with_an_absolute_path(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "state.sqlite"
    with open_store(f"sqlite:///{path}") as store:
        assert store.url == f"sqlite:////{str(path).lstrip('/')}"
    assert path.is_file()


def test_default_is_sqlite_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for unset in (None, ""):
        if unset is None:
            monkeypatch.delenv(ENV_VAR, raising=False)
        else:
            monkeypatch.setenv(ENV_VAR, unset)
        with open_store() as store:
            assert isinstance(store, SqliteStore)
            assert store.path == tmp_path / ".rewardsmith" / "state.sqlite"
    assert store.path.is_file()


def test_environment_variable_chooses_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, "memory://")
    assert isinstance(open_store(), MemoryStore)
    monkeypatch.setenv(ENV_VAR, f"sqlite:///{tmp_path / 'env.sqlite'}")
    with open_store() as store:
        assert store.url == f"sqlite:///{tmp_path / 'env.sqlite'}"
    assert isinstance(open_store("memory://"), MemoryStore)  # an explicit URL wins


@pytest.mark.parametrize(
    "url",
    ["", "state.sqlite", "sqlite://", "sqlite:///", "sqlite:state.sqlite", "memory://x", "ftp://h"],
)
def test_an_unknown_url_is_one_clear_error(url: str) -> None:
    with pytest.raises(ValueError, match="expected one of memory://, sqlite:///") as raised:
        open_store(url)
    assert repr(url) in str(raised.value)


def test_credentials_are_not_repeated_in_errors() -> None:
    with pytest.raises(ValueError) as raised:
        open_store("postgres://user:hunter2@db/x")
    assert "hunter2" not in str(raised.value)
    assert "'postgres://***@db/x'" in str(raised.value)
    with pytest.raises(ConnectionError) as refused:
        open_store("redis://:hunter2@127.0.0.1:1/0?password=hunter2")
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "unix:///nonexistent/redis.sock?db=0"])
def test_an_unreachable_redis_is_one_clear_error_quickly(url: str) -> None:
    began = time.monotonic()
    with pytest.raises(ConnectionError, match="expected a Redis server answering there") as raised:
        open_store(url)
    assert time.monotonic() - began < 5
    assert f"Redis state store at {url!r}" in str(raised.value)


def test_a_malformed_redis_url_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"'redis://127.0.0.1:port/0' is not valid"):
        open_store("redis://127.0.0.1:port/0")


def test_redis_url_opens_a_redis_store(redis_url: str) -> None:
    with open_store(redis_url) as store:
        assert isinstance(store, RedisStore)
        assert store.url == redis_url
