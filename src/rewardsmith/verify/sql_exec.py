"""Running SQL in a worker process under hard limits: the execution side of `sql`.

Everything here runs in a `WorkerPool` worker (see `rewardsmith.verify.sql` for the
guarantees): a reference's database is built once per worker under an authorizer that
refuses ATTACH, DETACH, VACUUM, PRAGMA writes and extension loading; a query runs
read-only under SQLite's limits (value and row size, LIKE pattern, query length,
columns, no attached databases, a hard heap limit) and a progress handler that stops it
at its time limit; its rows are digested as they stream and never sent back.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import quote

from rewardsmith.core.cache import cached
from rewardsmith.core.types import Status

_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}
_FORBIDDEN_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}
_SCHEMA_PRAGMAS = {"foreign_keys", "defer_foreign_keys"}  # what `sqlite3 .dump` writes
_FIXED_LIMITS = {
    sqlite3.SQLITE_LIMIT_ATTACHED: 0,
    sqlite3.SQLITE_LIMIT_WORKER_THREADS: 0,
    sqlite3.SQLITE_LIMIT_COLUMN: 1000,
    sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH: 100,
}
_QUERY_ERRORS = (sqlite3.Error, ValueError, OverflowError, MemoryError)


@dataclass(frozen=True)
class Limits:
    """The params a worker needs (hashable, so they can key its cache)."""

    timeout: float
    max_rows: int
    max_result_bytes: int
    max_value_bytes: int
    max_query_chars: int
    max_like_pattern: int
    max_memory_mb: int

    @classmethod
    def of(cls, params: Any) -> Limits:
        """The limits named like this class's fields, read off `params` (SQLParams)."""
        return cls(**{f.name: getattr(params, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class Database:
    """A reference's database: a file in db_dir (`path`), or `schema` and `rows` as JSON."""

    path: str = ""
    spec: str = ""


@dataclass(frozen=True)
class Run:
    """What one query did: digests of its rows (in order, and as a multiset) and what it
    read, or why it failed, the status that earns (ok for plain wrong SQL) and the
    reference field to blame when the database itself failed (`where`)."""

    read: frozenset[str] = frozenset()
    ordered: str = ""
    unordered: str = ""
    error: str = ""
    status: Status = Status.OK
    where: str = ""

    def same_rows(self, other: Run, ordered: bool) -> bool:
        if ordered:
            return self.ordered == other.ordered
        return self.unordered == other.unordered


class _Failed(Exception):
    """A query or database over a limit: the status that earns, why, and the reference
    field to blame ("" for the query itself)."""

    def __init__(self, status: Status, reason: str, where: str = "") -> None:
        super().__init__(reason)
        self.status, self.reason, self.where = status, reason, where


def run_query(database: Database, sql: str, limits: Limits) -> Run:
    """In a worker: run one query read-only and digest its rows (which are never kept)."""
    read: set[str] = set()
    try:
        with closing(_open(database, limits)) as connection:
            connection.set_authorizer(_authorizer(read))
            _set_deadline(connection, limits.timeout)
            return _digest(connection.execute(sql), read, limits)
    except _Failed as exc:
        return Run(frozenset(read), error=exc.reason, status=exc.status, where=exc.where)
    except _QUERY_ERRORS as exc:
        status, reason = _failure(exc, limits)
        return Run(frozenset(read), error=reason, status=status)


def _digest(cursor: sqlite3.Cursor, read: set[str], limits: Limits) -> Run:
    """Digests of the rows, in order and as a multiset; fails past max_rows or
    max_result_bytes."""
    ordered, rows, size = hashlib.blake2b(digest_size=16), [], 0
    for row in cursor:
        if len(rows) == limits.max_rows:
            raise _Failed(Status.INVALID, f"more than {limits.max_rows} rows (max_rows)")
        size += sum(len(value) if isinstance(value, str | bytes) else 8 for value in row)
        if size > limits.max_result_bytes:
            raise _Failed(
                Status.INVALID,
                f"query result larger than {limits.max_result_bytes} bytes (max_result_bytes)",
            )
        digest = _row_digest(row)
        ordered.update(digest)
        rows.append(digest)
    multiset = hashlib.blake2b(b"".join(sorted(rows)), digest_size=16)
    return Run(frozenset(read), ordered.hexdigest(), multiset.hexdigest())


def _row_digest(row: tuple[Any, ...]) -> bytes:
    """A row's digest under Python's equality: 2 and 2.0 are the same value."""
    same = tuple(int(v) if isinstance(v, float) and v.is_integer() else v for v in row)
    return hashlib.blake2b(repr(same).encode(), digest_size=16).digest()


def _open(database: Database, limits: Limits) -> sqlite3.Connection:
    """In a worker: a read-only connection to the reference's database, limits set."""
    if database.spec:
        image = _image(database.spec, limits)
        if isinstance(image, _Failed):
            raise _Failed(image.status, image.reason, image.where)
        connection = _connect(":memory:", limits)
        connection.deserialize(image)
    else:
        with _blame("reference.db_path", limits, "cannot open the database"):
            connection = _connect(_file_uri(database.path), limits)
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    connection.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, 4 * limits.max_query_chars)  # UTF-8
    connection.execute("PRAGMA query_only = ON")
    return connection


def _connect(target: str, limits: Limits) -> sqlite3.Connection:
    """A connection to ":memory:" or a `file:` URI, under the limits every connection has."""
    connection = sqlite3.connect(target, uri=True)
    for limit, value in {
        **_FIXED_LIMITS,
        sqlite3.SQLITE_LIMIT_LENGTH: limits.max_value_bytes,
        sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: limits.max_like_pattern,
    }.items():
        connection.setlimit(limit, value)
    connection.execute(f"PRAGMA hard_heap_limit = {limits.max_memory_mb << 20}")  # per process
    connection.execute("PRAGMA temp_store = MEMORY")  # so sorts and temp tables count too
    connection.execute("PRAGMA trusted_schema = OFF")
    return connection


def _file_uri(path: str) -> str:
    """A read-only URI for a file: the name percent-quoted (a `?`, `#` or `%` in it stays
    part of the name), immutable (SQLite creates no journal, lock or -shm file)."""
    return f"file:{quote(path)}?mode=ro&immutable=1"


@cached(max_entries=8, max_bytes=256 << 20)
def _image(spec: str, limits: Limits) -> bytes | _Failed:
    """In a worker: the database a reference's schema and rows describe, serialised, or why
    it cannot be built. Either is kept, so a reference costs one build per worker however
    many queries it has, a build that fails or runs out of time included."""
    try:
        return _build(spec, limits)
    except _Failed as exc:
        return exc.with_traceback(None)


def _build(spec: str, limits: Limits) -> bytes:
    data = json.loads(spec)
    with closing(_connect(":memory:", limits)) as connection:
        connection.set_authorizer(_builder)
        _set_deadline(connection, limits.timeout)
        with _blame("reference.schema", limits):
            connection.executescript(data["schema"])
        with _blame("reference.rows", limits):
            for table, row in _rows(data["rows"]):
                marks = ", ".join("?" * len(row))
                quoted = '"' + table.replace('"', '""') + '"'
                connection.execute(f"INSERT INTO {quoted} VALUES ({marks})", row)
            connection.commit()
            connection.executescript("CREATE TABLE _page(x); DROP TABLE _page;")  # never 0 pages
            return connection.serialize()


def _rows(rows: Any) -> Iterator[tuple[str, list[Any]]]:
    """(table, row) pairs of `reference.rows`: table names mapped to lists of rows."""
    if not isinstance(rows, dict):
        raise _Failed(Status.INVALID, "expected {table: [[value, ...], ...]}", "reference.rows")
    for table, table_rows in rows.items():
        if not isinstance(table_rows, list) or not all(isinstance(r, list) for r in table_rows):
            reason = f"table {table!r:.100}: expected a list of rows, each a list of values"
            raise _Failed(Status.INVALID, reason, "reference.rows")
        for row in table_rows:
            yield table, row


@contextmanager
def _blame(where: str, limits: Limits, doing: str = "cannot build the database") -> Iterator[None]:
    """SQLite's failures inside the block as a _Failed naming the reference field."""
    try:
        yield
    except _QUERY_ERRORS as exc:
        status, reason = _failure(exc, limits)
        status = Status.INVALID if status is Status.OK else status
        raise _Failed(status, f"{doing}: {reason}", where) from None


def _failure(exc: BaseException, limits: Limits) -> tuple[Status, str]:
    """The status a failed statement earns, and why: a limit, or the SQL error itself."""
    name = getattr(exc, "sqlite_errorname", "")
    if name == "SQLITE_INTERRUPT":
        return Status.TIMEOUT, f"exceeded the time limit of {limits.timeout:g} s (timeout)"
    if name == "SQLITE_TOOBIG":
        return (
            Status.INVALID,
            f"a value or row larger than {limits.max_value_bytes} bytes (max_value_bytes)",
        )
    if isinstance(exc, MemoryError) or name == "SQLITE_NOMEM":
        return (
            Status.INVALID,
            f"out of memory (SQLite may use {limits.max_memory_mb} MB, max_memory_mb)",
        )
    return Status.OK, str(exc) or type(exc).__name__


def _set_deadline(connection: sqlite3.Connection, seconds: float) -> None:
    """Interrupt the connection's statements `seconds` from now (checked between VM steps;
    one long step is left to the worker's kill)."""
    deadline = time.monotonic() + seconds
    connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)


def _authorizer(read: set[str]) -> Any:
    """Allows only reading; records the tables and columns read in `read`."""

    def decide(action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
        if action == sqlite3.SQLITE_READ and arg1 and not arg1.startswith("sqlite_"):
            read.add(arg1.lower())
            if arg2:
                read.add(f"{arg1.lower()}.{arg2.lower()}")
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _FORBIDDEN_FUNCTIONS:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY

    return decide


def _builder(action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
    """Authorizer for building a reference's database: no ATTACH, DETACH or VACUUM (SQLite
    reports VACUUM and VACUUM INTO as ATTACH), PRAGMA writes or extension loading."""
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and arg2 is not None:
        return sqlite3.SQLITE_OK if (arg1 or "").lower() in _SCHEMA_PRAGMAS else sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _FORBIDDEN_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK
