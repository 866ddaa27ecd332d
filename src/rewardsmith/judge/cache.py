"""Persistent cache of judge answers: one SQLite file, shared by threads and processes.

Only successful answers are stored, keyed by the sha256 of the canonical JSON of what
decides the answer (model, messages, sampling parameters, schema; not the server's URL),
so the same prompt to the same model with the same parameters is paid for once.
The file is in WAL mode with synchronous=NORMAL; writers queue for the write lock for up
to `busy_timeout` seconds. Open the cache in each process rather than passing it across
`fork()`.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS judge_cache (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
) WITHOUT ROWID
"""
READ_CHUNK = 500  # keys per SELECT, well under SQLite's limit on bound parameters


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    prompt_tokens: int
    completion_tokens: int


class JudgeCache:
    """Answers by request key in table `judge_cache` of one SQLite file."""

    def __init__(self, path: str | Path, busy_timeout: float = 60.0) -> None:
        self.path = Path(path).resolve()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            self._enable_wal(time.monotonic() + busy_timeout)
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute(SCHEMA)
        except BaseException:
            self._conn.close()
            raise

    def _enable_wal(self, deadline: float) -> None:
        # Switching a new file to WAL does not honour the busy timeout when several
        # processes open it at once, so the switch is retried until `deadline`.
        while self._conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                self._conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.005, 0.05))

    def get_many(self, keys: list[str]) -> dict[str, CachedAnswer]:
        found: dict[str, CachedAnswer] = {}
        with self._lock:
            for start in range(0, len(keys), READ_CHUNK):
                chunk = keys[start : start + READ_CHUNK]
                marks = ", ".join("?" * len(chunk))
                rows = self._conn.execute(
                    "SELECT key, text, prompt_tokens, completion_tokens FROM judge_cache"
                    f" WHERE key IN ({marks})",
                    chunk,
                )
                for key, text, prompt_tokens, completion_tokens in rows:
                    found[key] = CachedAnswer(text, prompt_tokens, completion_tokens)
        return found

    def put(self, key: str, answer: CachedAnswer) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO judge_cache"
                " (key, text, prompt_tokens, completion_tokens, created) VALUES (?, ?, ?, ?, ?)",
                (key, answer.text, answer.prompt_tokens, answer.completion_tokens, time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM judge_cache").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
