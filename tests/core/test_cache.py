"""The bounded cache: least-recently-used eviction by entries and by bytes."""

from __future__ import annotations

import sys
import threading

import pytest

from rewardsmith.core.cache import BoundedCache, approx_size, cached

MB = 1 << 20


def test_evicts_by_bytes_least_recently_used_first():
    cache: BoundedCache[str, str] = BoundedCache(max_entries=1000, max_bytes=3 * MB + 4096)
    for name in "abc":
        assert cache.put(name, name * MB)
    cache.get("a")  # now "b" is the least recently used
    cache.put("d", "d" * MB)
    assert "b" not in cache
    assert all(name in cache for name in "acd")
    assert cache.nbytes <= cache.max_bytes
    assert cache.nbytes == sum(approx_size(k) + approx_size(k * MB) for k in "acd")


def test_eighty_one_megabyte_values_stay_within_the_byte_budget():
    cache: BoundedCache[int, str] = BoundedCache(max_entries=65536, max_bytes=8 * MB)
    for i in range(80):
        cache.put(i, str(i) * MB)
    assert cache.nbytes <= 8 * MB
    assert len(cache) < 8
    assert 79 in cache and 0 not in cache


def test_evicts_by_entries():
    cache: BoundedCache[int, int] = BoundedCache(max_entries=2, max_bytes=MB)
    for i in range(3):
        cache.put(i, i)
    assert 0 not in cache and len(cache) == 2


def test_items_over_the_item_limit_are_not_stored_and_evict_nothing():
    cache: BoundedCache[str, str] = BoundedCache(10, 10 * MB, max_item_bytes=1000)
    cache.put("small", "x")
    assert not cache.put("big", "x" * 2000)
    assert "big" not in cache and "small" in cache
    assert not BoundedCache(10, 1000).put("big", "x" * 2000)  # larger than the whole budget


def test_replacing_a_key_counts_its_bytes_once():
    cache: BoundedCache[str, str] = BoundedCache(10, MB)
    cache.put("k", "x" * 1000)
    cache.put("k", "y")
    assert len(cache) == 1
    assert cache.nbytes == approx_size("k") + approx_size("y")
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0


def test_get_returns_the_default_when_absent():
    cache: BoundedCache[str, int] = BoundedCache(10, MB)
    assert cache.get("missing") is None
    assert cache.get("missing", -1) == -1


def test_approx_size_counts_nested_items():
    text = "x" * 10_000
    assert approx_size((text, 3)) >= sys.getsizeof(text)
    assert approx_size({"k": [text]}) >= sys.getsizeof(text)


def test_cached_memoises_and_bounds_by_bytes():
    calls = []

    @cached(max_entries=100, max_bytes=2 * MB)
    def echo(text: str) -> str:
        calls.append(text)
        return text

    echo("a")
    echo("a")
    assert calls == ["a"]
    for i in range(10):
        echo(str(i) * MB)
    assert echo.cache.nbytes <= 2 * MB


def test_cached_does_not_store_raises():
    @cached(max_entries=10, max_bytes=MB)
    def fail(x: int) -> int:
        raise ValueError(x)

    with pytest.raises(ValueError):
        fail(1)
    assert len(fail.cache) == 0


def test_concurrent_use_keeps_the_accounting_right():
    cache: BoundedCache[int, str] = BoundedCache(max_entries=50, max_bytes=64 * 1024)

    def work(offset: int) -> None:
        for i in range(2000):
            cache.put((offset + i) % 300, "v" * (i % 500))
            cache.get((offset + i * 7) % 300)

    threads = [threading.Thread(target=work, args=(k * 100,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) <= 50 and cache.nbytes <= 64 * 1024
    assert cache.nbytes == sum(size for _, size in cache._entries.values())


def test_bounds_must_be_positive():
    with pytest.raises(ValueError):
        BoundedCache(0, MB)
