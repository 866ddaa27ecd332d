"""An in-memory least-recently-used cache bounded by entries and by bytes.

`functools.lru_cache` bounds only the number of entries, so a cache keyed by untrusted
text grows with the size of that text (a thousand 1 MB keys hold 1 GB). `BoundedCache`
also bounds the bytes its keys and values hold, and refuses single items larger than
`max_item_bytes` (one huge item would otherwise evict everything else):

    verdicts = BoundedCache(max_entries=65536, max_bytes=64 << 20)
    verdicts.put(("12", "12.0"), (True, ""))
    verdicts.get(("12", "12.0"))            # (True, ""); None when absent

    @cached(max_entries=8192, max_bytes=64 << 20)
    def parse(text: str) -> list: ...      # parse.cache is its BoundedCache

Sizes come from `sizeof(key, value)`, by default `approx_size` of both (strings, bytes,
numbers and nested tuples, lists, sets and dicts of them); pass your own for other
objects. All methods are thread-safe.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")
F = TypeVar("F", bound=Callable[..., Any])


def approx_size(obj: object) -> int:
    """Bytes held by `obj`, including the items of (acyclic) tuples, lists, sets and dicts;
    other objects count with `sys.getsizeof` alone."""
    size = sys.getsizeof(obj)
    if isinstance(obj, tuple | list | set | frozenset):
        size += sum(approx_size(item) for item in obj)
    elif isinstance(obj, dict):
        size += sum(approx_size(k) + approx_size(v) for k, v in obj.items())
    return size


def pair_size(key: object, value: object) -> int:
    """The default `sizeof`: `approx_size` of the key plus that of the value."""
    return approx_size(key) + approx_size(value)


class BoundedCache(Generic[K, V]):
    """A map that evicts its least recently used entries to stay within `max_entries`
    entries and `max_bytes` bytes of keys and values; items of more than
    `max_item_bytes` (default `max_bytes`) are not stored at all."""

    def __init__(
        self,
        max_entries: int,
        max_bytes: int,
        max_item_bytes: int | None = None,
        sizeof: Callable[[K, V], int] = pair_size,
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be positive")
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.max_item_bytes = min(max_item_bytes or max_bytes, max_bytes)
        self.sizeof = sizeof
        self.nbytes = 0  # bytes of the entries held now
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, default: D = None) -> V | D:  # type: ignore[assignment]
        """The value stored for `key` (now the most recently used), else `default`."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return default
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: K, value: V) -> bool:
        """Store `value` under `key`, evicting the least recently used entries as needed;
        False (and nothing stored) when the item alone exceeds `max_item_bytes`."""
        size = self.sizeof(key, value)
        if size > self.max_item_bytes:
            return False
        with self._lock:
            self._drop(key)
            self._entries[key] = (value, size)
            self.nbytes += size
            while len(self._entries) > self.max_entries or self.nbytes > self.max_bytes:
                self._drop(next(iter(self._entries)))
        return True

    def _drop(self, key: K) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.nbytes -= entry[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.nbytes = 0

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


def cached(
    max_entries: int,
    max_bytes: int,
    max_item_bytes: int | None = None,
    sizeof: Callable[[Any, Any], int] = pair_size,
) -> Callable[[F], F]:
    """Memoise a function of hashable positional arguments in a `BoundedCache` (the
    wrapper's `.cache`); the key is the tuple of arguments, and raises are not cached."""

    def decorate(fn: F) -> F:
        cache: BoundedCache[tuple[Any, ...], Any] = BoundedCache(
            max_entries, max_bytes, max_item_bytes, sizeof
        )
        missing = object()

        @functools.wraps(fn)
        def wrapper(*args: Any) -> Any:
            value = cache.get(args, missing)
            if value is missing:
                value = fn(*args)
                cache.put(args, value)
            return value

        wrapper.cache = cache  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
