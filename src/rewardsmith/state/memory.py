"""In-memory state store: a dict behind a lock.

Guarantees: each batch is applied under one lock, so every update, and in fact every
batch, is atomic for the threads of this process, and `read` sees a batch wholly or not
at all. Nothing persists or is shared: each `MemoryStore` (each "memory://" URL opened)
is a separate, empty store whose data go when it is closed. For tests and single-process
runs.
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable

from rewardsmith.state.store import Record, StateStore, Update

_COMBINE: dict[str, Callable[[float, float], float]] = {
    "assign": lambda old, new: new,
    "add": operator.add,
    "minimum": min,
    "maximum": max,
}


class MemoryStore(StateStore):
    """Records in a dict of namespace -> key -> fields, guarded by a lock."""

    def __init__(self) -> None:
        self.url = "memory://"
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, Record]] = {}

    def _read(self, namespace: str, keys: list[str]) -> dict[str, Record]:
        with self._lock:
            records = self._data.get(namespace, {})
            return {key: dict(records[key]) for key in keys if key in records}

    def _apply(self, updates: list[Update]) -> None:
        with self._lock:
            for update in updates:
                _apply_one(self._data, update)

    def _scan(self, namespace: str) -> dict[str, Record]:
        with self._lock:
            return {key: dict(fields) for key, fields in self._data.get(namespace, {}).items()}

    def _clear(self, namespace: str | None) -> None:
        with self._lock:
            if namespace is None:
                self._data.clear()
            else:
                self._data.pop(namespace, None)

    def _close(self) -> None:
        with self._lock:
            self._data.clear()


def _apply_one(data: dict[str, dict[str, Record]], update: Update) -> None:
    changes = update.changes()
    if not changes:
        return
    fields = data.setdefault(update.namespace, {}).setdefault(update.key, {})
    for op, name, value in changes:
        old = fields.get(name)
        fields[name] = value if old is None else _COMBINE[op](old, value)
