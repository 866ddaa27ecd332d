"""`sql`: execution rewards for text-to-SQL on SQLite, with Reasoning-SQL's partial rewards.

Parts (each in `Score.components` as `<name>.<part>`, combined with `weights`):
- `execution`: 1 iff the predicted query returns the gold query's rows (as a multiset;
  in order when the gold has ORDER BY);
- `syntax`: 1 iff the predicted query runs;
- `schema`: Jaccard overlap of the tables and columns the two queries read, as SQLite
  itself reports them while preparing each query (no SQL parser to disagree with);
- `ngram`: Jaccard overlap of the queries' token n-grams.
The partial rewards follow Reasoning-SQL (Pourreza et al., arXiv 2503.23157). The default
weights give plain execution accuracy; set the others to use the partial rewards.

`reference`: `{"gold": "SELECT ...", "db_path": "x.sqlite"}` or
`{"gold": "SELECT ...", "schema": "CREATE TABLE ...;", "rows": {"t": [[1, "a"], ...]}}`.
Queries run read-only: an authorizer allows only reading (no writes, ATTACH, PRAGMA or
extension loading), a progress handler stops a query at its time limit, and at most
`max_rows` rows are fetched.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import Field, model_validator

from rewardsmith.core.component import InvalidSample, Params, SampleComponent
from rewardsmith.core.config import register
from rewardsmith.core.types import Sample, Score
from rewardsmith.verify.text import final_region

PARTS = ("execution", "syntax", "schema", "ngram")
_FENCE = re.compile(r"```([\w-]*)[^\n]*\n(.*?)```", re.DOTALL)
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|\w+|[<>!=]=|[^\s\w]")
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
_ALLOWED = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}
_FORBIDDEN_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}


class SQLParams(Params):
    weights: dict[str, float] = Field(default_factory=lambda: {"execution": 1.0})
    timeout: float = Field(default=2.0, gt=0, description="seconds per query")
    max_rows: int = Field(default=100_000, ge=1)
    ngram: int = Field(default=2, ge=1, le=6)

    @model_validator(mode="after")
    def _known_parts(self) -> SQLParams:
        unknown = set(self.weights) - set(PARTS)
        if unknown:
            raise ValueError(
                f"weights: unknown part {sorted(unknown)[0]!r}; allowed: " + ", ".join(PARTS)
            )
        return self


def extract_query(completion: str) -> str:
    """The last ```sql block (else the last fenced block), else the final text."""
    blocks = _FENCE.findall(final_region(completion))
    sql = [body for language, body in blocks if language.lower() == "sql"]
    chosen = (sql or [body for _, body in blocks] or [final_region(completion)])[-1]
    return chosen.strip().rstrip(";").strip()


class QueryResult:
    """Rows of a query, the tables and columns it read, or why it failed."""

    def __init__(self, rows: list[tuple] | None, read: set[str], error: str = "") -> None:
        self.rows, self.read, self.error = rows, read, error


@register("sql")
class SQLVerifier(SampleComponent):
    """Execution accuracy and partial rewards for SQL against a SQLite database."""

    Params = SQLParams
    params: SQLParams

    def score_sample(self, sample: Sample) -> Score:
        reference = sample.reference
        if not isinstance(reference, Mapping) or not isinstance(reference.get("gold"), str):
            raise InvalidSample("reference.gold: expected the gold SQL query as a string")
        image = _database(
            json.dumps({k: v for k, v in reference.items() if k != "gold"}, sort_keys=True)
        )
        gold = self.execute(image, reference["gold"])
        if gold.rows is None:
            raise InvalidSample(f"reference.gold: the gold query fails: {gold.error}")
        query = extract_query(sample.completion)
        predicted = self.execute(image, query) if query else QueryResult(None, set(), "empty")
        parts = {
            "execution": float(
                predicted.rows is not None
                and _same_rows(predicted.rows, gold.rows, reference["gold"])
            ),
            "syntax": float(predicted.rows is not None),
            "schema": _jaccard(predicted.read, gold.read),
            "ngram": _jaccard(
                _ngrams(query, self.params.ngram), _ngrams(reference["gold"], self.params.ngram)
            ),
        }
        value = sum(self.params.weights.get(part, 0.0) * parts[part] for part in PARTS)
        info = {"query": query, **parts}
        if predicted.error:
            info["error"] = predicted.error
        components = {f"{self.name}.{part}": parts[part] for part in PARTS}
        return Score(value, components=components, info=info)

    def execute(self, image: bytes, query: str) -> QueryResult:
        """Run one query on a private read-only copy of the database."""
        connection = sqlite3.connect(":memory:", check_same_thread=False)
        read: set[str] = set()
        try:
            connection.deserialize(image)
            connection.set_authorizer(_authorizer(read))
            deadline = time.monotonic() + self.params.timeout
            connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
            cursor = connection.execute(query)
            rows = cursor.fetchmany(self.params.max_rows + 1)
            if len(rows) > self.params.max_rows:
                return QueryResult(None, read, f"more than {self.params.max_rows} rows")
            return QueryResult(rows, read)
        except sqlite3.OperationalError as exc:
            reason = "time limit exceeded" if str(exc) == "interrupted" else str(exc)
            return QueryResult(None, read, reason)
        except (sqlite3.Error, ValueError, OverflowError, MemoryError) as exc:
            return QueryResult(None, read, f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()


def _authorizer(read: set[str]) -> Any:
    def decide(action: int, arg1: str | None, arg2: str | None, *_: Any) -> int:
        if action == sqlite3.SQLITE_READ and arg1 and not arg1.startswith("sqlite_"):
            read.add(arg1.lower())
            if arg2:
                read.add(f"{arg1.lower()}.{arg2.lower()}")
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _FORBIDDEN_FUNCTIONS:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY

    return decide


@lru_cache(maxsize=64)
def _database(spec_json: str) -> bytes:
    """The database of a reference, serialised once (a reference's samples share it)."""
    spec = json.loads(spec_json)
    connection = sqlite3.connect(":memory:")
    try:
        if "db_path" in spec:
            source = sqlite3.connect(f"file:{spec['db_path']}?mode=ro", uri=True)
            source.backup(connection)
            source.close()
        elif "schema" in spec:
            connection.executescript(spec["schema"])
            for table, rows in (spec.get("rows") or {}).items():
                for row in rows:
                    marks = ", ".join("?" * len(row))
                    connection.execute(f'INSERT INTO "{table}" VALUES ({marks})', row)
            connection.commit()
        else:
            raise InvalidSample("reference: expected 'db_path', or 'schema' (and 'rows')")
        connection.executescript("CREATE TABLE _page(x); DROP TABLE _page;")  # never 0 pages
        return connection.serialize()
    except sqlite3.Error as exc:
        raise InvalidSample(f"reference: cannot build the database: {exc}") from None
    finally:
        connection.close()


def _same_rows(predicted: list[tuple], gold: list[tuple], gold_query: str) -> bool:
    if _ORDER_BY.search(gold_query):
        return predicted == gold
    return Counter(predicted) == Counter(gold)


def _ngrams(query: str, n: int) -> set[tuple[str, ...]]:
    tokens = [token.lower() for token in _TOKEN.findall(query)]
    return {tuple(tokens[i : i + n]) for i in range(max(len(tokens) - n + 1, 0))}


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0
