"""SQLite state store: one file, shared by the threads and processes of one machine.

Guarantees: a batch is one `BEGIN IMMEDIATE` transaction of UPSERTs, so it is applied
wholly or not at all, and writers (threads, or processes opening the same file) queue
for the write lock instead of losing updates; a writer waits up to `busy_timeout`
seconds before failing with `sqlite3.OperationalError`. `read` runs in one read
transaction, so it sees a batch wholly or not at all. The file is in WAL mode with
synchronous=NORMAL: data survive a crash or restart of the process; a power loss can
drop the last batches. Open the store in each process rather than passing it across
`fork()`, and do not put the file on a network file system.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rewardsmith.state.store import Record, StateStore, Update

SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (namespace, key, field)
) WITHOUT ROWID
"""
# ?5 is the change's op; a new row takes the value whatever the op.
UPSERT = """
INSERT INTO state (namespace, key, field, value) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (namespace, key, field) DO UPDATE SET value = CASE ?5
    WHEN 'add' THEN value + excluded.value
    WHEN 'minimum' THEN min(value, excluded.value)
    WHEN 'maximum' THEN max(value, excluded.value)
    ELSE excluded.value
END
"""
READ_CHUNK = 500  # keys per SELECT, well under SQLite's limit on bound parameters


class SqliteStore(StateStore):
    """Rows (namespace, key, field, value) in table `state` of one SQLite file."""

    def __init__(self, path: str | Path, busy_timeout: float = 60.0) -> None:
        self.path = Path(path).resolve()
        self.url = f"sqlite:///{self.path}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            _use_wal(self._conn, time.monotonic() + busy_timeout)
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute(SCHEMA)
        except BaseException:
            self._conn.close()
            raise

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute(begin)
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _read(self, namespace: str, keys: list[str]) -> dict[str, Record]:
        records: dict[str, Record] = {}
        with self._transaction("BEGIN") as conn:
            for start in range(0, len(keys), READ_CHUNK):
                chunk = keys[start : start + READ_CHUNK]
                marks = ", ".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT key, field, value FROM state WHERE namespace = ? AND key IN ({marks})",
                    [namespace, *chunk],
                )
                _collect(records, rows)
        return records

    def _apply(self, updates: list[Update]) -> None:
        rows = [
            (update.namespace, update.key, name, value, op)
            for update in updates
            for op, name, value in update.changes()
        ]
        with self._transaction("BEGIN IMMEDIATE") as conn:
            conn.executemany(UPSERT, rows)

    def _scan(self, namespace: str) -> dict[str, Record]:
        with self._transaction("BEGIN") as conn:
            rows = conn.execute(
                "SELECT key, field, value FROM state WHERE namespace = ?", (namespace,)
            )
            return _collect({}, rows)

    def _clear(self, namespace: str | None) -> None:
        with self._transaction("BEGIN IMMEDIATE") as conn:
            if namespace is None:
                conn.execute("DELETE FROM state")
            else:
                conn.execute("DELETE FROM state WHERE namespace = ?", (namespace,))

    def _close(self) -> None:
        with self._lock:
            self._conn.close()


def _use_wal(conn: sqlite3.Connection, deadline: float) -> None:
    """Switch the file to WAL mode. The switch does not wait for the busy timeout when other
    processes are opening the same new file, so it is retried here until `deadline`."""
    while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))


def _collect(
    records: dict[str, Record], rows: Iterable[tuple[str, str, float]]
) -> dict[str, Record]:
    for key, name, value in rows:
        records.setdefault(key, {})[name] = value
    return records
