"""A gathering mailbox in a SQLite file, shared by every process on the machine that
opens it: the uvicorn workers of one `rewardsmith serve` (whose requests for one group
land on any worker), or several verl reward-loop workers on one node.

Each operation is one short `BEGIN IMMEDIATE` transaction (SQLite's write lock, WAL
journal), so exactly one process closes a batch: the one whose post completes it, or the
first to claim it past its wait limit. Samples and Scores are stored as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rewardsmith.adapters.gather import Mailbox, Member
from rewardsmith.core.types import DenseReward, Sample, Score, Status

BUSY_SECONDS = 30.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL, opened REAL NOT NULL, open INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS open_batch ON batches(key) WHERE open = 1;
CREATE TABLE IF NOT EXISTS members (
    token TEXT PRIMARY KEY, batch INTEGER NOT NULL, sample TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS members_of ON members(batch);
CREATE TABLE IF NOT EXISTS scores (token TEXT PRIMARY KEY, score TEXT NOT NULL);
"""


class SqliteMailbox(Mailbox):
    """The mailbox in the SQLite file at `path` (created with its parents if missing)."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def post(self, key: str, member: Member, size: int) -> tuple[int, float, list[Member] | None]:
        token, sample = member
        with self._transaction() as db:
            row = db.execute("SELECT id, opened FROM batches WHERE key = ? AND open = 1", (key,))
            found = row.fetchone()
            if found is None:
                opened = time.time()
                cursor = db.execute(
                    "INSERT INTO batches (key, opened, open) VALUES (?, ?, 1)", (key, opened)
                )
                found = (cursor.lastrowid, opened)
            batch, opened = found
            db.execute(
                "INSERT INTO members VALUES (?, ?, ?)", (token, batch, sample.model_dump_json())
            )
            (count,) = db.execute(
                "SELECT count(*) FROM members WHERE batch = ?", (batch,)
            ).fetchone()
            return batch, opened, self._close(db, batch) if count >= size else None

    def claim(self, batch: int) -> list[Member] | None:
        with self._transaction() as db:
            return self._close(db, batch)

    @staticmethod
    def _close(db: sqlite3.Connection, batch: int) -> list[Member] | None:
        if db.execute("DELETE FROM batches WHERE id = ? AND open = 1", (batch,)).rowcount == 0:
            return None
        rows = db.execute(
            "DELETE FROM members WHERE batch = ? RETURNING token, sample", (batch,)
        ).fetchall()
        return [(token, Sample.model_validate_json(sample)) for token, sample in rows]

    def publish(self, scores: Mapping[str, Score]) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO scores VALUES (?, ?)",
                [(token, _dumps(score)) for token, score in scores.items()],
            )

    def collect(self, token: str) -> Score | None:
        with self._lock:
            row = self._db.execute(
                "DELETE FROM scores WHERE token = ? RETURNING score", (token,)
            ).fetchone()
        return None if row is None else _loads(row[0])


def _dumps(score: Score) -> str:
    return json.dumps(dataclasses.asdict(score), default=str)


def _loads(text: str) -> Score:
    data: dict[str, Any] = json.loads(text)
    dense = data["dense"]
    return Score(
        value=data["value"],
        status=Status(data["status"]),
        components=data["components"],
        info=data["info"],
        dense=None if dense is None else [DenseReward(**span) for span in dense],
        advantage=data["advantage"],
    )
