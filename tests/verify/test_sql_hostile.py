"""The SQL reward against hostile queries and references: time, memory, files, batches.

Time limits are checked against the limit plus a wide slack (never an absolute figure a
loaded machine could miss), memory in a fresh process, files by listing the directories
an attack aims at before and after.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rewardsmith import ConfigError, Status
from rewardsmith.core.pipeline import Reward
from rewardsmith.verify.sql import _ngrams
from tests.linear_time import ADVERSARIAL_SIZE, assert_linear

REFERENCE = {
    "gold": "SELECT name FROM people WHERE age > 30",
    "schema": "CREATE TABLE people(id INTEGER, name TEXT, age INTEGER);",
    "rows": {"people": [[1, "Ann", 34], [2, "Bob", 25], [3, "Cy", 41]]},
}
RIGHT = "SELECT name FROM people WHERE age >= 31"
SLACK = 30.0  # seconds: a loaded machine's margin on top of a limit
# One LIKE over a 2 MB string with a 25,000-character pattern: one SQLite VM step of
# about 5e10 character comparisons (minutes), which no progress handler can interrupt.
LIKE_2MB = (
    "SELECT replace(hex(zeroblob(1000000)), '0', 'a') "
    "LIKE '%' || replace(hex(zeroblob(12500)), '0', 'a') || 'b'"
)
LONG_VALUES = {"max_value_bytes": 4_000_000, "max_like_pattern": 50_000}  # let it build
ZEROBLOB = "SELECT zeroblob(400000000), 1"
BLOB_ROWS = (  # 20 rows of 900 KB: 18 MB of result
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 20) "
    "SELECT zeroblob(900000) FROM c"
)
BIG_ROWS = BLOB_ROWS.replace("LIMIT 20", "LIMIT 80")  # 72 MB: over the default 50 MB cap
MEMORY_HOG = (  # a DISTINCT over 4,000 values of 10 KB: some 40 MB of SQLite memory
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 4000) "
    "SELECT count(*) FROM (SELECT DISTINCT x || zeroblob(10000) FROM c)"
)
FOREVER = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


def scored(reward: Reward, completion: str, reference: dict = REFERENCE):
    [result] = reward.score([{"completion": completion, "reference": reference}])
    return result


def error(result) -> str:
    return result.info["sql"]["error"]


def test_a_long_single_step_is_killed_at_the_hard_time_limit():
    spec = {"type": "sql", "timeout": 1.0, **LONG_VALUES}
    with Reward.from_spec(spec) as reward:
        assert scored(reward, RIGHT).value == 1.0  # the worker is up
        start = time.monotonic()
        result = scored(reward, LIKE_2MB)
        elapsed = time.monotonic() - start
        assert result.status is Status.TIMEOUT and result.value == 0.0
        assert error(result).startswith("query: still running after 3 s")
        assert "worker was killed" in error(result)
        assert elapsed < 3 + SLACK
        assert scored(reward, RIGHT).value == 1.0  # a fresh worker took over


def test_default_limits_refuse_the_long_like_before_it_runs():
    with Reward.from_spec({"type": "sql"}) as reward:
        start = time.monotonic()
        result = scored(reward, LIKE_2MB)
        assert time.monotonic() - start < 2 + SLACK
        assert result.status is Status.INVALID
        assert error(result) == "query: a value or row larger than 1000000 bytes (max_value_bytes)"
        long_pattern = scored(reward, "SELECT 'a' LIKE '" + "a" * 101 + "'")
        assert long_pattern.ok and long_pattern.value == 0.0
        assert "pattern too complex" in error(long_pattern)


def test_the_soft_time_limit_stops_a_query_between_steps():
    with Reward.from_spec({"type": "sql", "timeout": 0.5}) as reward:
        result = scored(reward, FOREVER)
        assert result.status is Status.TIMEOUT
        assert error(result) == "query: exceeded the time limit of 0.5 s (timeout)"


def test_sqlite_memory_is_capped_in_the_worker():
    with Reward.from_spec({"type": "sql", "max_memory_mb": 16, "timeout": SLACK}) as reward:
        result = scored(reward, MEMORY_HOG)
        assert result.status is Status.INVALID
        assert error(result) == "query: out of memory (SQLite may use 16 MB, max_memory_mb)"
        assert scored(reward, RIGHT).value == 1.0


def test_result_size_is_capped():
    with Reward.from_spec({"type": "sql", "max_result_bytes": 5_000_000}) as reward:
        result = scored(reward, BLOB_ROWS)
        assert result.status is Status.INVALID
        assert error(result) == "query: query result larger than 5000000 bytes (max_result_bytes)"


MEASURE = """
import json, resource, sys
from rewardsmith import Reward
reference = json.loads(sys.argv[1])
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with Reward.from_spec({"type": "sql"}) as reward:
    reward.score([{"completion": "SELECT 1", "reference": reference}])
    before = peak()
    scores = reward.score(
        [{"completion": query, "reference": reference} for query in sys.argv[2:]]
    )
    grown = peak() - before
print(json.dumps({"grown": grown, "scores": [[s.status, s.info["sql"]["error"]] for s in scores]}))
"""


def test_huge_results_cost_the_scorer_no_memory():
    """Before the worker: the zeroblob alone added some 760 MB to the scorer's peak, and
    BIG_ROWS would be kept whole (72 MB)."""
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(REFERENCE), ZEROBLOB, BIG_ROWS],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    measured = json.loads(run.stdout)
    assert measured["scores"] == [
        ["invalid", "query: a value or row larger than 1000000 bytes (max_value_bytes)"],
        ["invalid", "query: query result larger than 50000000 bytes (max_result_bytes)"],
    ]
    assert measured["grown"] < 40 << 20, f"scorer grew by {measured['grown'] >> 20} MB"


def files_under(path: Path) -> list[tuple[str, int, int]]:
    return sorted(
        (str(p.relative_to(path)), p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in path.rglob("*")
    )


@pytest.mark.parametrize(
    "statement",
    [
        "ATTACH DATABASE '{tmp}/attached.db' AS x",
        "VACUUM INTO '{tmp}/copy.db'",
        "VACUUM",
        "DETACH DATABASE temp",
        "PRAGMA writable_schema = 1",
        "PRAGMA hard_heap_limit = 1000000000000",
        "SELECT load_extension('{tmp}/evil')",
    ],
)
def test_reference_schema_cannot_write_files_or_change_limits(statement, tmp_path):
    schema = "CREATE TABLE people(id INTEGER, name TEXT, age INTEGER);" + statement.format(
        tmp=tmp_path
    )
    with Reward.from_spec({"type": "sql"}) as reward:
        result = scored(reward, RIGHT, {**REFERENCE, "schema": schema})
    assert result.status is Status.INVALID
    assert error(result).startswith("reference.schema: cannot build the database: ")
    assert "not authorized" in error(result) or "authorization denied" in error(result)
    assert list(tmp_path.iterdir()) == []


def test_gold_query_cannot_write_files(tmp_path):
    gold = f"ATTACH DATABASE '{tmp_path}/attached.db' AS x"
    with Reward.from_spec({"type": "sql"}) as reward:
        result = scored(reward, RIGHT, {**REFERENCE, "gold": gold})
    assert result.status is Status.INVALID
    assert error(result) == "reference.gold: the gold query fails: not authorized"
    assert list(tmp_path.iterdir()) == []


def test_a_dump_style_schema_builds():
    schema = (
        "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n"
        "CREATE TABLE people(id INTEGER, name TEXT, age INTEGER);\n"
        "INSERT INTO people VALUES(1,'Ann',34);\nINSERT INTO people VALUES(3,'Cy',41);\n"
        "COMMIT;\n"
    )
    with Reward.from_spec({"type": "sql"}) as reward:
        assert scored(reward, RIGHT, {**REFERENCE, "schema": schema, "rows": {}}).value == 1.0


def test_gold_over_a_limit_fails_its_samples_naming_the_gold():
    with Reward.from_spec({"type": "sql", "timeout": 0.5}) as reward:
        slow = scored(reward, RIGHT, {**REFERENCE, "gold": FOREVER})
        huge = scored(reward, RIGHT, {**REFERENCE, "gold": ZEROBLOB})
    assert slow.status is Status.TIMEOUT
    assert error(slow) == (
        "reference.gold: the gold query fails: exceeded the time limit of 0.5 s (timeout)"
    )
    assert huge.status is Status.INVALID and error(huge).startswith("reference.gold: ")
    assert "max_value_bytes" in error(huge)


def test_a_schema_that_never_finishes_costs_one_build_not_one_per_query():
    """40 distinct queries on a schema whose build runs out of time: without the worker
    keeping the failed build, each query would pay the 1 s again (41 s on one worker)."""
    schema = (
        "CREATE TABLE people AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
        "FROM c) SELECT x AS id, 'n' AS name, x AS age FROM c;"
    )
    reference = {**REFERENCE, "schema": schema, "rows": {}}
    samples = [{"completion": f"SELECT {i}", "reference": reference} for i in range(40)]
    with Reward.from_spec({"type": "sql", "timeout": 1.0}) as reward:
        assert scored(reward, RIGHT).value == 1.0  # the worker is up
        start = time.monotonic()
        scores = reward.score(samples)
        elapsed = time.monotonic() - start
    assert {s.status for s in scores} == {Status.TIMEOUT}
    assert {error(s) for s in scores} == {
        "reference.schema: cannot build the database: exceeded the time limit of 1 s (timeout)"
    }
    assert elapsed < 1 + SLACK


def test_too_long_queries_are_refused_before_they_are_sent():
    with Reward.from_spec({"type": "sql", "max_query_chars": 50}) as reward:
        result = scored(reward, "SELECT name FROM people WHERE " + "1 = 1 AND " * 10 + "1")
    assert result.status is Status.INVALID
    assert error(result) == "query: 131 characters; expected at most 50 (max_query_chars)"


def make_db(path: Path, total: int) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t(x)")
        db.execute("INSERT INTO t VALUES (?)", (total,))
    sqlite3.connect(path).close()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp/dbs/{ok.sqlite (t.x = 1), 'we?ird#na%20me.sqlite' (2), link.sqlite -> ../outside},
    tmp/outside.sqlite (3)."""
    dbs = tmp_path / "dbs"
    dbs.mkdir()
    make_db(dbs / "ok.sqlite", 1)
    make_db(dbs / "we?ird#na%20me.sqlite", 2)
    make_db(tmp_path / "outside.sqlite", 3)
    (dbs / "link.sqlite").symlink_to(tmp_path / "outside.sqlite")
    return tmp_path


def with_db(db_path: object, gold: str = "SELECT x FROM t") -> dict:
    return {"gold": gold, "db_path": db_path}


def test_db_path_is_read_from_db_dir_only(tree):
    refused = [
        "ok.sqlite?mode=rwc",
        "new.sqlite?mode=rwc",
        "new.sqlite",
        "file:ok.sqlite?mode=rwc",
        "../outside.sqlite",
        "../dbs/../outside.sqlite",
        str(tree / "outside.sqlite"),
        "link.sqlite",
        "/etc/passwd",
        ".",
        "",
        "ok.sqlite\0",
        5,
    ]
    accepted = [("ok.sqlite", "SELECT 1"), (str(tree / "dbs" / "ok.sqlite"), "SELECT 1")]
    accepted.append(("we?ird#na%20me.sqlite", "SELECT 2"))  # quoted, not read as a URI
    before = files_under(tree)
    with Reward.from_spec({"type": "sql", "db_dir": "dbs"}, base_dir=tree) as reward:
        scores = reward.score(
            [{"completion": "SELECT 1", "reference": with_db(name)} for name in refused]
            + [{"completion": query, "reference": with_db(name)} for name, query in accepted]
        )
    for name, result in zip(refused, scores, strict=False):
        assert result.status is Status.INVALID, name
        assert error(result).startswith("reference.db_path: "), name
    assert [s.value for s in scores[len(refused) :]] == [1.0, 1.0, 1.0]
    assert files_under(tree) == before  # nothing created, nothing written


def test_db_dir_must_exist(tmp_path):
    with pytest.raises(ConfigError, match=r"reward\.db_dir: .* is not a directory"):
        Reward.from_spec({"type": "sql", "db_dir": "missing"}, base_dir=tmp_path)


def test_a_file_that_is_not_a_database_is_an_invalid_reference(tree):
    (tree / "dbs" / "notes.sqlite").write_text("not a database")
    with Reward.from_spec({"type": "sql", "db_dir": str(tree / "dbs")}) as reward:
        result = scored(reward, "SELECT 1", with_db("notes.sqlite"))
    assert result.status is Status.INVALID
    assert error(result).startswith("reference.db_path: cannot open the database: ")


def test_hostile_samples_leave_honest_ones_exactly_as_they_were():
    spec = {"type": "sql", "timeout": 2.0, "max_memory_mb": 16, **LONG_VALUES}
    spec["max_result_bytes"] = 5_000_000
    other = {**REFERENCE, "gold": "SELECT count(*) FROM people"}
    honest = [
        {"prompt": "p1", "completion": RIGHT, "reference": REFERENCE},
        {"prompt": "p1", "completion": "SELECT name FROM people", "reference": REFERENCE},
        {"prompt": "p1", "completion": "SELECT nme FROM people", "reference": REFERENCE},
        {"prompt": "p2", "completion": "SELECT 3", "reference": other},
        {
            "prompt": "p2",
            "completion": "```sql\nSELECT count(id) FROM people\n```",
            "reference": other,
        },
    ]
    attacks = {
        LIKE_2MB: (Status.TIMEOUT, "worker was killed"),
        ZEROBLOB: (Status.INVALID, "max_value_bytes"),
        BLOB_ROWS: (Status.INVALID, "max_result_bytes"),
        MEMORY_HOG: (Status.INVALID, "max_memory_mb"),
        FOREVER: (Status.TIMEOUT, "time limit of 2 s"),
        "DROP TABLE people": (Status.OK, "not authorized"),
        "SELECT x FROM (": (Status.OK, "incomplete input"),
    }
    hostile = [
        {"prompt": prompt, "completion": query, "reference": REFERENCE}
        for query in attacks
        for prompt in ("p1", "p3")  # inside an honest group, and a group of its own
    ]
    with Reward.from_spec(spec, workers=2) as reward:
        expected = reward.score(honest)
        mixed = reward.score(honest[:2] + hostile + honest[2:])
    assert [s.value for s in expected] == [1.0, 0.0, 0.0, 1.0, 1.0]
    assert mixed[:2] + mixed[2 + len(hostile) :] == expected
    for sample, result in zip(hostile, mixed[2 : 2 + len(hostile)], strict=True):
        status, reason = attacks[sample["completion"]]
        assert result.status is status and result.value == 0.0, sample["completion"]
        assert reason in error(result), sample["completion"]


@pytest.mark.parametrize(
    "text",
    [
        "'" + "a" * ADVERSARIAL_SIZE,  # a quote never closed
        '"' + "a " * (ADVERSARIAL_SIZE // 2),
        "''" * (ADVERSARIAL_SIZE // 2) + "'",
        "<=" * (ADVERSARIAL_SIZE // 2),
    ],
)
def test_the_ngram_tokenizer_is_linear(text):
    assert_linear(lambda query: _ngrams(query, 2), text)


def test_the_worker_memory_limit_leaves_room_for_sqlites_own():
    """SQLite's heap limit must trip first (status invalid, naming max_memory_mb), not the
    worker's address-space limit (status error)."""
    with Reward.from_spec({"type": "sql", "max_memory_mb": 600}) as reward:
        assert reward.root.pool.memory_mb >= 2 * 600
    with Reward.from_spec({"type": "sql"}) as reward:
        assert reward.root.pool.memory_mb >= 2 * 256
