"""The training-state store: records of float fields, changed by atomic updates.

A record is addressed by (namespace, key) and holds named float fields, e.g. namespace
"prompt_stats", key a prompt id, fields {"seen": 12, "solved": 5, "best_len": 311}. A
record exists once one of its fields has been written. Names are arbitrary non-empty
strings (':' and '/' included); values are floats.

An `Update` changes one record with four kinds of change, applied in this order:
`assign` (field = value), `add` (field += value; a missing field counts as 0),
`minimum` (field = min(field, value)) and `maximum` (field = max(field, value)); for
the last two a missing field takes the value. So `add={"x": d}, minimum={"x": hi}`
is a counter clipped at `hi`.

Every backend validates a whole batch before writing any of it, applies each `Update`
atomically, and never loses an update when several threads write at once; backends that
share state between processes never lose one across processes either. `open_store`
picks the backend from a URL (see there).
"""

from __future__ import annotations

import math
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Self

ENV_VAR = "REWARDSMITH_STATE"
DEFAULT_PATH = Path(".rewardsmith") / "state.sqlite"
OPS: tuple[str, ...] = ("assign", "add", "minimum", "maximum")  # order of application
URL_FORMS = (
    "memory://, sqlite:///path/to/state.sqlite (four slashes for an absolute path), "
    "redis://host:port/db, rediss://host:port/db or unix:///path/to/redis.sock"
)

Record = dict[str, float]


@dataclass(frozen=True)
class Update:
    """Changes to one record (namespace, key); each applied atomically.

    Raises ValueError naming the bad part when a name is not a non-empty string or a
    value is not a finite number. The mappings are copied, with values as floats.
    """

    namespace: str
    key: str
    add: Mapping[str, float] = field(default_factory=dict)
    minimum: Mapping[str, float] = field(default_factory=dict)
    maximum: Mapping[str, float] = field(default_factory=dict)
    assign: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name("Update.namespace", self.namespace)
        _check_name("Update.key", self.key)
        where = f"Update({self.namespace!r}, {self.key!r})"
        for op in OPS:
            fields = _checked_fields(f"{where}.{op}", getattr(self, op))
            object.__setattr__(self, op, MappingProxyType(fields))

    def changes(self) -> list[tuple[str, str, float]]:
        """(op, field, value) in the order they are applied."""
        return [(op, name, value) for op in OPS for name, value in getattr(self, op).items()]


def _check_name(what: str, value: object) -> str:
    """`value` if it is a non-empty string that encodes as UTF-8, else ValueError."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what}: expected a non-empty string, got {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what}: expected text that encodes as UTF-8, got {value!r}") from None
    return value


def redacted(url: str) -> str:
    """`url` without the credentials in its user part or in a password= parameter."""
    url = re.sub(r"(?<=://)[^/@]*@", "***@", url)
    return re.sub(r"(?<=[?&]password=)[^&]*", "***", url)


def _checked_fields(what: str, fields: object) -> dict[str, float]:
    if not isinstance(fields, Mapping):
        raise ValueError(f"{what}: expected a mapping of field name to number, got {fields!r}")
    checked = {}
    for name, value in fields.items():
        _check_name(f"{what} field name", name)
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise ValueError(f"{what}[{name!r}]: expected a finite number, got {value!r}")
        checked[name] = float(value)
    return checked


def _checked_batch(updates: Sequence[Update]) -> list[Update]:
    if isinstance(updates, Update) or not isinstance(updates, Sequence):
        raise TypeError(f"apply: expected a sequence of Update, got {type(updates).__name__}")
    for i, update in enumerate(updates):
        if not isinstance(update, Update):
            raise TypeError(f"apply: updates[{i}] is a {type(update).__name__}, not an Update")
    return list(updates)


def _checked_keys(keys: Sequence[str]) -> list[str]:
    if isinstance(keys, str) or not isinstance(keys, Sequence):
        raise TypeError(f"read: expected a sequence of keys, got {type(keys).__name__}")
    return [_check_name(f"read: keys[{i}]", key) for i, key in enumerate(keys)]


class StateStore(ABC):
    """Persistent or shared records of float fields; see the module docstring.

    The public methods validate their arguments and hand over to the backend's
    `_read`, `_apply`, `_scan`, `_clear` and `_close`; `records_read` and
    `records_written` count what `read` returned and `apply` changed through this handle.
    """

    url: str
    _closed = False
    records_read = 0
    records_written = 0

    def read(self, namespace: str, keys: Sequence[str]) -> dict[str, Record]:
        """Records of `keys` in `namespace`, in one round trip; keys never written are absent."""
        self._check_open()
        _check_name("read: namespace", namespace)
        keys = _checked_keys(keys)
        records = self._read(namespace, keys) if keys else {}
        self.records_read += len(records)
        return records

    def apply(self, updates: Sequence[Update]) -> None:
        """Apply a batch in order, in one round trip or transaction; each update is atomic."""
        self._check_open()
        updates = _checked_batch(updates)
        if updates:
            self._apply(updates)
            self.records_written += len(updates)

    def scan(self, namespace: str) -> dict[str, Record]:
        """Every record of `namespace` (for reports and tests)."""
        self._check_open()
        return self._scan(_check_name("scan: namespace", namespace))

    def clear(self, namespace: str | None = None) -> None:
        """Delete the records of `namespace`, or of every namespace when it is None."""
        self._check_open()
        self._clear(None if namespace is None else _check_name("clear: namespace", namespace))

    def close(self) -> None:
        """Release connections; afterwards every method but `close` raises ValueError."""
        if not self._closed:
            self._closed = True
            self._close()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self!r} is closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @abstractmethod
    def _read(self, namespace: str, keys: list[str]) -> dict[str, Record]: ...

    @abstractmethod
    def _apply(self, updates: list[Update]) -> None: ...

    @abstractmethod
    def _scan(self, namespace: str) -> dict[str, Record]: ...

    @abstractmethod
    def _clear(self, namespace: str | None) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...


def open_store(url: str | None = None) -> StateStore:
    """Open the store at `url`.

    - "memory://": a new store local to this process;
    - "sqlite:///state.sqlite" (relative to the working directory) or
      "sqlite:////abs/path/state.sqlite": a file, parent directories created;
    - "redis://host:port/db", "rediss://..." or "unix:///path/to/redis.sock?db=0": a
      Redis server, which must answer now.

    Without `url`: $REWARDSMITH_STATE if set and non-empty, else the SQLite file
    .rewardsmith/state.sqlite in the working directory. Raises ValueError for a URL of
    no known form and ConnectionError when Redis cannot be reached.
    """
    url = resolve_url(url)
    if url == "memory://":
        from rewardsmith.state.memory import MemoryStore

        return MemoryStore()
    if url.startswith("sqlite:///"):
        from rewardsmith.state.sqlite import SqliteStore

        return SqliteStore(url.removeprefix("sqlite:///"))
    from rewardsmith.state.redis import RedisStore

    return RedisStore(url)


def resolve_url(url: str | None = None) -> str:
    """The URL `open_store(url)` would open (the default filled in), checked for its form
    without connecting: ValueError for a URL of no known form."""
    if url is None:
        url = os.environ.get(ENV_VAR) or "sqlite:///" + str(Path.cwd() / DEFAULT_PATH)
    if not isinstance(url, str):
        raise TypeError(f"state store URL: expected a string, got {type(url).__name__}")
    if (
        url == "memory://"
        or (url.startswith("sqlite:///") and url != "sqlite:///")
        or url.startswith(("redis://", "rediss://", "unix://"))
    ):
        return url
    raise ValueError(
        f"state store URL {redacted(url)!r} is not understood; expected one of {URL_FORMS}"
    )
