"""The SQL verifier: execution accuracy, partial rewards, and hostile queries."""

from __future__ import annotations

import json
import sqlite3

import pytest

from rewardsmith import ConfigError, Status
from rewardsmith.core.pipeline import Reward
from rewardsmith.verify.sql import extract_query

REFERENCE = {
    "gold": "SELECT name FROM people WHERE age > 30",
    "schema": "CREATE TABLE people(id INTEGER, name TEXT, age INTEGER);"
    "CREATE TABLE pets(owner INTEGER, kind TEXT);",
    "rows": {"people": [[1, "Ann", 34], [2, "Bob", 25], [3, "Cy", 41]], "pets": [[1, "cat"]]},
}
PARTIAL = {"type": "sql", "weights": {"execution": 1, "syntax": 0.1, "schema": 0.3, "ngram": 0.2}}


_REWARDS: dict[str, Reward] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_rewards():
    yield
    for reward in _REWARDS.values():
        reward.close()
    _REWARDS.clear()


def score(spec, completion, reference=REFERENCE):
    """One sample's Score from a reward built once per spec (its worker is reused)."""
    key = json.dumps(spec, sort_keys=True)
    if key not in _REWARDS:
        _REWARDS[key] = Reward.from_spec(spec)
    [result] = _REWARDS[key].score([{"completion": completion, "reference": reference}])
    return result


def test_extract_query():
    assert extract_query("think\n```sql\nSELECT 1;\n```") == "SELECT 1"
    assert extract_query("SELECT 2") == "SELECT 2"


@pytest.mark.parametrize(
    ("completion", "correct"),
    [
        ("```sql\nSELECT name FROM people WHERE age >= 31;\n```", True),
        ("SELECT p.name FROM people AS p WHERE p.age > 30 ORDER BY p.name DESC", True),
        ("SELECT name FROM people", False),
        ("SELECT name, age FROM people WHERE age > 30", False),
        ("SELECT nme FROM people", False),
        ("", False),
    ],
)
def test_execution_accuracy_ignores_row_order_unless_gold_orders(completion, correct):
    assert score({"type": "sql"}, completion).value == float(correct)


def test_order_matters_when_the_gold_orders():
    ordered = {**REFERENCE, "gold": "SELECT name FROM people ORDER BY age"}
    assert score({"type": "sql"}, "SELECT name FROM people ORDER BY age", ordered).value == 1.0
    assert score({"type": "sql"}, "SELECT name FROM people ORDER BY age DESC", ordered).value == 0


def test_partial_rewards_are_named_components():
    result = score(PARTIAL, "SELECT name FROM people")
    parts = {k: v for k, v in result.components.items() if k.startswith("sql.")}
    assert parts["sql.execution"] == 0.0 and parts["sql.syntax"] == 1.0
    # reads {people, people.name} vs gold {people, people.name, people.age}
    assert parts["sql.schema"] == pytest.approx(2 / 3)
    assert 0 < parts["sql.ngram"] < 1
    expected = 0.1 * 1 + 0.3 * (2 / 3) + 0.2 * parts["sql.ngram"]
    assert result.value == pytest.approx(expected)


def test_rows_compare_under_python_equality():
    """Rows are compared as digests in the worker; equality is still Python's: 2 == 2.0."""
    reference = {**REFERENCE, "gold": "SELECT 2, 'x', NULL, x'00'"}
    assert score({"type": "sql"}, "SELECT 2.0, 'x', NULL, x'00'", reference).value == 1.0
    assert score({"type": "sql"}, "SELECT '2', 'x', NULL, x'00'", reference).value == 0.0
    assert score({"type": "sql"}, "SELECT 2, 'x', NULL, '\x00'", reference).value == 0.0
    assert score({"type": "sql"}, "SELECT 2.5, 'x', NULL, x'00'", reference).value == 0.0


HOSTILE = {"type": "sql", "timeout": 0.5, "max_rows": 1000}


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("DROP TABLE people", "not authorized"),
        ("DELETE FROM people", "not authorized"),
        ("INSERT INTO people VALUES (9, 'x', 1)", "not authorized"),
        ("ATTACH DATABASE '{tmp}/attack.db' AS x", "not authorized"),
        ("VACUUM INTO '{tmp}/attack.db'", "authorization denied"),
        ("PRAGMA writable_schema = 1", "not authorized"),
        ("SELECT load_extension('{tmp}/evil')", "not authorized"),
        ("SELECT name FROM people; DROP TABLE people", "one statement at a time"),
    ],
)
def test_queries_that_write_are_wrong_sql_and_change_nothing(query, reason, tmp_path):
    result = score(HOSTILE, query.format(tmp=tmp_path))
    assert result.status is Status.OK and result.value == 0.0
    assert result.info["sql"]["syntax"] == 0.0 and reason in result.info["sql"]["error"]
    assert score(HOSTILE, REFERENCE["gold"]).value == 1.0  # database unchanged
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
            "SELECT count(*) FROM c",
            Status.TIMEOUT,
            "query: exceeded the time limit of 0.5 s (timeout)",
        ),
        (
            "SELECT 1 FROM people a, people b, people c, people d, people e, people f, people g, "
            "people h, people i, people j, people k, people l",
            Status.INVALID,
            "query: more than 1000 rows (max_rows)",
        ),
    ],
)
def test_queries_over_a_limit_fail_with_the_limit_named(query, status, reason):
    result = score(HOSTILE, query)
    assert result.status is status and result.info["sql"]["error"] == reason
    assert score(HOSTILE, REFERENCE["gold"]).value == 1.0


def test_database_file_is_opened_read_only(tmp_path):
    path = tmp_path / "db.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t(x)")
        db.execute("INSERT INTO t VALUES (1), (2)")
    reference = {"gold": "SELECT sum(x) FROM t", "db_path": "db.sqlite"}
    with Reward.from_spec({"type": "sql", "db_dir": str(tmp_path)}) as reward:
        [right, delete] = reward.score(
            [
                {"completion": "SELECT 3", "reference": reference},
                {"completion": "DELETE FROM t", "reference": reference},
            ]
        )
    assert right.value == 1.0 and delete.value == 0.0
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (2,)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db.sqlite"]  # no journal or lock


def test_bad_references_and_params():
    scores = Reward.from_spec({"type": "sql"}).score(
        [
            {"completion": "SELECT 1", "reference": {"gold": 5}},
            {"completion": "SELECT 1", "reference": {"gold": "SELECT 1"}},
            {"completion": "SELECT 1", "reference": {**REFERENCE, "gold": "SELECT nope FROM t"}},
            {"completion": "SELECT 1", "reference": {"gold": "SELECT 1", "schema": ""}},
        ]
    )
    assert [s.status for s in scores] == [Status.INVALID] * 3 + [Status.OK]
    assert "reference.gold: the gold query fails" in scores[2].info["sql"]["error"]
    with pytest.raises(ConfigError, match="weights: unknown part 'speed'"):
        Reward.from_spec({"type": "sql", "weights": {"speed": 1}})
