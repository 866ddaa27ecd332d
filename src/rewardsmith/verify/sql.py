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

`reference`: `{"gold": "SELECT ...", "db_path": "x.sqlite"}` (a file in `db_dir`) or
`{"gold": "SELECT ...", "schema": "CREATE TABLE ...;", "rows": {"t": [[1, "a"], ...]}}`.

Both queries, the policy's and the gold, are untrusted, and so is the reference (the
worker side is `rewardsmith.verify.sql_exec`):
- Each distinct query is a task in a worker process. A task still running after twice
  `timeout` plus 1 s (building the database, then the query) is killed and its worker
  replaced: that covers single SQLite steps that no progress handler can interrupt (one
  LIKE or replace() over a long string is one step). A worker builds a reference's
  database once and keeps it, or why it failed, for the reference's next queries.
- In the worker, SQLite limits bound every value and row (`max_value_bytes`), LIKE
  patterns, query text and result columns and allow no attached database; a process-wide
  hard heap limit (`max_memory_mb`, temporary tables kept in memory) bounds SQLite's
  memory, and a progress handler stops a query at `timeout`.
- Rows are never kept or sent back: the worker streams them into digests (in order and
  as a multiset, under Python's equality) and fails a query past `max_rows` or
  `max_result_bytes`; the scorer compares digests.
- Queries run under an authorizer that allows only reading, on a `query_only`
  connection to a private copy of the database built from `schema` and `rows`, or to a
  file opened read-only and immutable. The schema is built under an authorizer that
  refuses ATTACH, DETACH, VACUUM, PRAGMA writes and extension loading; `db_path` must
  name a regular file inside `db_dir` once symlinks are resolved.
A query out of time gets status `timeout`, one over a size or memory limit `invalid`,
each with a reason naming the limit, and only its own samples are affected. A query that
fails as SQL (syntax, unknown column, not authorized) is a wrong answer: status ok, 0.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from rewardsmith.core.component import InvalidSample, Params, guarded
from rewardsmith.core.config import BuildContext, ConfigError, register
from rewardsmith.core.pool import DEFAULT_MEMORY_MB, WorkerPool
from rewardsmith.core.pooled import PooledComponent
from rewardsmith.core.types import Group, Sample, Score, Status
from rewardsmith.verify.sql_exec import Database, Limits, Run, run_query
from rewardsmith.verify.text import fenced_blocks, final_region

PARTS = ("execution", "syntax", "schema", "ngram")
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|\w+|[<>!=]=|[^\s\w]")
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
_KILL_GRACE = 1.0  # seconds a task may overrun its time limits before its worker is killed


class SQLParams(Params):
    weights: dict[str, float] = Field(
        default_factory=lambda: {"execution": 1.0}, description="weight of each part"
    )
    timeout: float = Field(
        default=2.0,
        gt=0,
        description="seconds per query and per database build; a worker still busy after "
        "twice this plus 1 s is killed",
    )
    max_rows: int = Field(default=100_000, ge=1, description="rows a query may return")
    max_result_bytes: int = Field(
        default=50_000_000,
        ge=1,
        description="size of a query's rows: text and blob lengths, 8 bytes per other value",
    )
    max_value_bytes: int = Field(
        default=1_000_000,
        ge=1,
        le=1_000_000_000,
        description="largest string, blob or table row (SQLITE_LIMIT_LENGTH)",
    )
    max_query_chars: int = Field(
        default=100_000, ge=1, le=10_000_000, description="longest query, policy's or gold"
    )
    max_like_pattern: int = Field(
        default=100,
        ge=1,
        le=50_000,
        description="longest LIKE or GLOB pattern in bytes (SQLITE_LIMIT_LIKE_PATTERN_LENGTH)",
    )
    max_memory_mb: int = Field(
        default=256,
        ge=1,
        description="SQLite's memory in a worker (hard heap limit; temporary tables in memory)",
    )
    db_dir: str = Field(
        default=".",
        description="directory reference.db_path files must be in (relative to the reward "
        "file's directory)",
    )
    ngram: int = Field(default=2, ge=1, le=6, description="n of the ngram part")

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
    blocks = fenced_blocks(final_region(completion))
    sql = [body for language, body in blocks if language.lower() == "sql"]
    chosen = (sql or [body for _, body in blocks] or [final_region(completion)])[-1]
    return chosen.strip().rstrip(";").strip()


_NO_QUERY = Run(error="no query found")


@dataclass(frozen=True)
class _Pending:
    """A sample waiting for its two queries, the gold and the policy's."""

    database: Database
    gold: str
    query: str


@register("sql")
class SQLVerifier(PooledComponent[list[list[Score | _Pending]], tuple[Database, str]]):
    """Execution accuracy and partial rewards for SQL against a SQLite database."""

    Params = SQLParams
    params: SQLParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        self.db_dir = ctx.path(self.params.db_dir).resolve()
        if not self.db_dir.is_dir():
            raise ConfigError(f"{self.path}.db_dir: {self.db_dir} is not a directory")
        self.limits = Limits.of(self.params)
        self.kill_after = 2 * self.params.timeout + _KILL_GRACE
        # room for SQLite's own heap limit (which should trip first, as `invalid`) twice over,
        # plus the interpreter and a deserialised database image
        memory = max(DEFAULT_MEMORY_MB, 2 * self.params.max_memory_mb + 256)
        self.pool = WorkerPool(ctx.workers, memory_mb=memory)

    def plan(self, groups: list[Group]) -> list[list[Score | _Pending]]:
        """Each sample planned on its own: what it raises fails only that sample."""
        return [
            [guarded(self.fallback, self._planned, sample) for sample in group.samples]
            for group in groups
        ]

    def _planned(self, sample: Sample) -> _Pending:
        """The sample's two queries (InvalidSample when its input cannot be used)."""
        reference = sample.reference
        if not isinstance(reference, Mapping) or not isinstance(reference.get("gold"), str):
            raise InvalidSample("reference.gold: expected the gold SQL query as a string")
        pending = _Pending(
            self._database(reference), reference["gold"], extract_query(sample.completion)
        )
        for field, text in (("reference.gold", pending.gold), ("query", pending.query)):
            if len(text) > self.params.max_query_chars:
                raise InvalidSample(
                    f"{field}: {len(text)} characters; expected at most "
                    f"{self.params.max_query_chars} (max_query_chars)"
                )
        return pending

    def _database(self, reference: Mapping[str, Any]) -> Database:
        if "db_path" in reference:
            return Database(path=str(self._db_file(reference["db_path"])))
        if "schema" not in reference:
            raise InvalidSample("reference: expected 'db_path', or 'schema' (and 'rows')")
        if not isinstance(reference["schema"], str):
            raise InvalidSample("reference.schema: expected SQL text")
        data = {"schema": reference["schema"], "rows": reference.get("rows") or {}}
        try:
            return Database(spec=json.dumps(data, sort_keys=True))
        except (TypeError, ValueError, RecursionError) as exc:
            raise InvalidSample(f"reference.rows: expected JSON data ({exc})") from None

    def _db_file(self, name: Any) -> Path:
        """`reference.db_path` as a regular file inside db_dir, symlinks resolved."""
        if not isinstance(name, str) or not name or "\0" in name:
            raise InvalidSample("reference.db_path: expected the name of a file in db_dir")
        try:
            path = (self.db_dir / name).resolve()
        except (OSError, RuntimeError) as exc:
            reason = f"{name!r:.200} cannot be resolved ({exc})"
            raise InvalidSample(f"reference.db_path: {reason}") from None
        if not path.is_relative_to(self.db_dir):
            raise InvalidSample(f"reference.db_path: {name!r:.200} is outside db_dir {self.db_dir}")
        if not path.is_file():
            raise InvalidSample(f"reference.db_path: {name!r:.200} is not a file in db_dir")
        return path

    def submit(self, plan: list[list[Score | _Pending]]) -> dict[tuple[Database, str], Future]:
        futures: dict[tuple[Database, str], Future] = {}
        for row in plan:
            for item in row:
                if not isinstance(item, _Pending):
                    continue
                for sql in (item.gold, item.query):
                    key = (item.database, sql)
                    if sql and key not in futures:
                        futures[key] = self.pool.submit(
                            run_query, item.database, sql, self.limits, timeout=self.kill_after
                        )
        return futures

    def resolve(
        self,
        plan: list[list[Score | _Pending]],
        outcomes: dict[tuple[Database, str], tuple[Status, Any]],
    ) -> list[list[Score]]:
        runs = {key: self._run(*result) for key, result in outcomes.items()}
        return [
            [item if isinstance(item, Score) else self._score(item, runs) for item in row]
            for row in plan
        ]

    def _run(self, status: Status, result: Any) -> Run:
        """A task's outcome as a Run, a killed or crashed worker included."""
        if status is Status.OK:
            return result
        if status is Status.TIMEOUT:
            return Run(
                error=f"still running after {self.kill_after:g} s (twice timeout + "
                f"{_KILL_GRACE:g} s); its worker was killed",
                status=status,
            )
        return Run(error=str(result), status=status)

    def _score(self, item: _Pending, runs: dict[tuple[Database, str], Run]) -> Score:
        gold = runs.get((item.database, item.gold), _NO_QUERY)
        if gold.error:
            status = Status.INVALID if gold.status is Status.OK else gold.status
            if gold.where:
                where = f"{gold.where}: {gold.error}"
                return Score.failed(status, self.fallback, where, "invalid_reference")
            reason = f"reference.gold: the gold query fails: {gold.error}"
            return Score.failed(status, self.fallback, reason, "gold_query_failed")
        predicted = runs.get((item.database, item.query), _NO_QUERY)
        if predicted.status is not Status.OK:
            reason = f"{predicted.where or 'query'}: {predicted.error}"
            info = {"query": item.query, "error": reason, "code": str(predicted.status)}
            return Score(self.fallback, predicted.status, info=info)
        ran = not predicted.error
        ordered = bool(_ORDER_BY.search(item.gold))
        n = self.params.ngram
        parts = {
            "execution": float(ran and predicted.same_rows(gold, ordered)),
            "syntax": float(ran),
            "schema": _jaccard(predicted.read, gold.read),
            "ngram": _jaccard(_ngrams(item.query, n), _ngrams(item.gold, n)),
        }
        value = sum(self.params.weights.get(part, 0.0) * parts[part] for part in PARTS)
        info: dict[str, Any] = {"query": item.query, **parts}
        if predicted.error:
            info.update(error=predicted.error, code="query_failed")
        elif not parts["execution"]:
            info["code"] = "wrong_rows"
        components = {f"{self.name}.{part}": parts[part] for part in PARTS}
        return Score(value, components=components, info=info)


def _ngrams(query: str, n: int) -> set[tuple[str, ...]]:
    tokens = [token.lower() for token in _TOKEN.findall(query)]
    return {tuple(tokens[i : i + n]) for i in range(max(len(tokens) - n + 1, 0))}


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0
