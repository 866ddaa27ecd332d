"""`math`: reward 1 when the completion's final answer is equivalent to the gold.

Three layers, cheapest first:
1. extraction (`math_answer`): one final answer or none (hedges and shotguns get none);
2. the fast path (`math_normalize`): equal spellings and plain numbers are decided in
   the calling process, without sympy;
3. math-verify (`math_symbolic`) in worker processes for everything else, each check
   under a hard time limit (the worker is killed and replaced when it overruns; a check
   that overruns is tried once more under `retry_timeout` before it counts as a
   timeout). A batch asks each distinct (gold, answer) pair once, and verdicts are
   cached across batches.

A gold that lists several parts is matched part by part (`math_parts`): as a set by
default, in order when the reference says `{"answer": ..., "ordered": true}` or the
reward sets `ordered_parts: true`.

A completion whose answer is longer than `max_answer_chars`, or has a number of more
than `max_number_digits` digits, gets status invalid before any comparison (golds come
from the dataset and are not capped; the fast path bounds its own work on them). A
sample that makes local judging raise gets status error alone. Caches are bounded by
entries and bytes (`core.cache`), and items over 64 KB are not cached.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from pydantic import Field

from rewardsmith.core.cache import BoundedCache, cached
from rewardsmith.core.component import InvalidSample, Params, guarded
from rewardsmith.core.config import BuildContext, register
from rewardsmith.core.pool import DEFAULT_MEMORY_MB, WorkerPool
from rewardsmith.core.pooled import PooledComponent
from rewardsmith.core.types import Group, Sample, Score, Status
from rewardsmith.verify.math_answer import (
    MAX_ANSWER_CHARS,
    MAX_NUMBER_DIGITS,
    Limits,
    Rules,
    extract_answer,
)
from rewardsmith.verify.math_normalize import SCIENTIFIC_REL_TOL, fast_equal
from rewardsmith.verify.math_parts import Part, gold_parts, match_parts, parts_equal
from rewardsmith.verify.math_symbolic import symbolic_equal, warm_up

VERDICT_CACHE_ENTRIES, VERDICT_CACHE_BYTES = 65536, 64 << 20
GOLD_CACHE_ENTRIES, GOLD_CACHE_BYTES = 16384, 16 << 20
CACHE_ITEM_BYTES = 64 << 10


class MathParams(Params):
    timeout: float = Field(
        default=5.0,
        gt=0,
        description="seconds per symbolic check; a check that overruns it (often only "
        "because the machine is loaded) is tried once more under `retry_timeout`",
    )
    retry_timeout: float = Field(
        default=15.0,
        ge=0,
        description="seconds for the second attempt at a check that overran `timeout`; "
        "only a check that overruns both gets status timeout (0: no second attempt). A "
        "check that never ends costs a worker timeout + retry_timeout seconds",
    )
    memory_mb: int = Field(
        default=DEFAULT_MEMORY_MB,
        ge=256,
        description="memory limit (address space) of each check process, in MiB; a check "
        "that runs into it gets status error",
    )
    on_conflict: Literal["reject", "last"] = "reject"
    scientific_rel_tol: float = Field(
        default=SCIENTIFIC_REL_TOL,
        gt=0,
        lt=1,
        description="relative tolerance for a number in scientific notation (3.0 \\times "
        "10^{8}, 1.5e-3) against an exact value; two integers must be equal",
    )
    answer_policy: Literal["closing_sentence", "strict"] = Field(
        default="closing_sentence",
        description="closing_sentence: an unmarked answer counts when the closing "
        "sentence states exactly one mathematical value; strict: only marked answers "
        "(answer tags, boxes, answer phrases, ####) count",
    )
    think: Literal["fallback", "ignore"] = Field(
        default="fallback",
        description="fallback: when the text after </think> has no answer, the whole "
        "completion is read; ignore: an answer only inside <think> earns nothing",
    )
    ordered_parts: bool = Field(
        default=False,
        description="match a gold of several parts in order (tuples, ordered answers) "
        "rather than as a set; a reference {'answer': ..., 'ordered': ...} overrides it",
    )
    fast_path: bool = True
    max_answer_chars: int = Field(
        default=MAX_ANSWER_CHARS,
        gt=0,
        description="a longer final answer gets status invalid before any comparison",
    )
    max_number_digits: int = Field(
        default=MAX_NUMBER_DIGITS,
        gt=0,
        description="a final answer with a longer run of digits gets status invalid",
    )


Key = tuple[str, str] | tuple[tuple[Part, ...], tuple[Part, ...], bool]


@dataclass
class _Pending:
    key: Key
    info: dict[str, Any]
    local: float = 0.0  # seconds the sample's local reading took
    # the batch's pool checks: key -> [submitted, done] (perf_counter; done NaN until done)
    pooled: dict[Key, list[float]] | None = None


def _pool_seconds(item: _Pending) -> float:
    """How long the pool took over the item's check, from submission to its outcome."""
    submitted, done = (item.pooled or {}).get(item.key, [math.nan, math.nan])
    if math.isnan(submitted):
        return 0.0
    return (time.perf_counter() if math.isnan(done) else done) - submitted


@dataclass(frozen=True)
class Gold:
    """A gold answer: its normalised parts (one for a single value), and whether their
    order matters."""

    parts: tuple[Part, ...]
    ordered: bool

    @property
    def text(self) -> str:
        return ", ".join(value for _, value in self.parts)


@cached(GOLD_CACHE_ENTRIES, GOLD_CACHE_BYTES, max_item_bytes=CACHE_ITEM_BYTES)
def _gold(reference: str) -> tuple[Part, ...]:
    """The gold's parts, shared by every sample of a group. A gold written as a solution
    with one `\\boxed{}` is reduced to it; several boxes are several parts."""
    return gold_parts(reference) or (("", ""),)


def extraction_rules(params: Any) -> Rules:
    """How `math` (or `answered`, with the same settings) looks for the final answer."""
    limits = Limits(params.max_answer_chars, params.max_number_digits)
    return Rules(params.on_conflict, params.answer_policy, params.think, limits)


def gold_part_count(reference: Any) -> int:
    """How many parts the gold lists (1 when there is no gold `math` could read)."""
    try:
        return len(_gold(gold_text(reference)))
    except InvalidSample:
        return 1


def gold_text(reference: Any) -> str:
    """The gold answer as text: a string or number, or a mapping with `answer`."""
    if isinstance(reference, Mapping):
        reference = reference.get("answer")
    if reference is None:
        raise InvalidSample("reference: missing; expected the gold answer")
    if isinstance(reference, bool) or not isinstance(reference, str | int | float):
        raise InvalidSample(
            "reference: expected the gold answer as a string or number "
            f"(or {{'answer': ...}}), got {type(reference).__name__}"
        )
    text = str(reference).strip()
    if not text:
        raise InvalidSample("reference: empty; expected the gold answer")
    return text


def _ordered(reference: Any, default: bool) -> bool:
    """Whether the reference says its parts are ordered (`ordered`), else `default`."""
    if isinstance(reference, Mapping) and "ordered" in reference:
        ordered = reference["ordered"]
        if not isinstance(ordered, bool):
            raise InvalidSample(f"reference: 'ordered' must be true or false, got {ordered!r}")
        return ordered
    return default


def _retrying(
    pool: WorkerPool, fn: Callable[..., Any], args: tuple[Any, ...], first: float, second: float
) -> Future:
    """`pool.submit(fn, *args)` under `first` seconds and, if it overruns them, once more
    under `second` (0: never): a check that times out because the machine is loaded is
    not a verdict. Cancelling the returned future cancels the attempt that is running."""
    result: Future = Future()
    running: list[Future] = []

    def start(timeout: float, retry: bool) -> None:
        attempt = pool.submit(fn, *args, timeout=timeout)
        running[:] = [attempt]
        attempt.add_done_callback(partial(finished, retry=retry))

    def finished(done: Future, retry: bool) -> None:
        with contextlib.suppress(InvalidStateError):  # (unless cancelled meanwhile)
            if done.cancelled():
                result.cancel()
            elif retry and isinstance(done.exception(), FutureTimeout):
                start(second, retry=False)
            elif (error := done.exception()) is not None:
                result.set_exception(error)
            else:
                result.set_result(done.result())

    result.add_done_callback(lambda done: done.cancelled() and running[0].cancel())
    start(first, retry=second > 0)
    return result


@register("math")
class MathVerifier(PooledComponent[list[list[Score | _Pending]], Key]):
    """Final-answer correctness for math, with math-verify as the equivalence backend."""

    Params = MathParams
    params: MathParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        self.pool = WorkerPool(ctx.workers, initializer=warm_up, memory_mb=self.params.memory_mb)
        self.rules = extraction_rules(self.params)
        self._verdicts: BoundedCache[Key, tuple[bool | None, str]] = BoundedCache(
            VERDICT_CACHE_ENTRIES, VERDICT_CACHE_BYTES, max_item_bytes=CACHE_ITEM_BYTES
        )

    def plan(self, groups: list[Group]) -> list[list[Score | _Pending]]:
        """Each sample judged locally on its own: what it raises fails only that sample."""
        return [[self._timed_locally(sample) for sample in group.samples] for group in groups]

    def _timed_locally(self, sample: Sample) -> Score | _Pending:
        """The local judgment, with the seconds it took (Score.seconds, _Pending.local)."""
        started = time.perf_counter()
        judged = guarded(self.fallback, self._judge_locally, sample)
        if isinstance(judged, Score):
            judged.seconds = time.perf_counter() - started
        else:
            judged.local = time.perf_counter() - started
        return judged

    def _judge_locally(self, sample: Sample) -> Score | _Pending:
        gold = Gold(
            _gold(gold_text(sample.reference)),
            _ordered(sample.reference, self.params.ordered_parts),
        )
        found = extract_answer(sample.completion, len(gold.parts), sample.prompt_text, self.rules)
        info: dict[str, Any] = {
            "extracted": found.answer,
            "gold": gold.text,
            "source": found.source,
        }
        if found.answer is None:
            info |= {"reason": found.reason or "no final answer found", "code": found.code}
            if found.out_of_bounds:
                return Score(self.fallback, Status.INVALID, info=info)
            return Score(0.0, info=info)
        key: Key
        if len(gold.parts) == 1:
            key = (gold.parts[0][1], found.parts[0][1])
        else:
            key = (gold.parts, found.parts, gold.ordered)
        if (cached_verdict := self._verdicts.get(key)) is not None:
            return self._verdict(cached_verdict, {**info, "path": "cache"})
        decided = self._fast(key) if self.params.fast_path else None
        if decided is not None:
            return self._verdict((decided, ""), {**info, "path": "fast"})
        return _Pending(key, {**info, "path": "symbolic"})

    def _fast(self, key: Key) -> bool | None:
        equal = partial(fast_equal, rel_tol=self.params.scientific_rel_tol)
        if len(key) == 2:
            return equal(*key)
        return match_parts(*key, equal=equal)

    def submit(self, plan: list[list[Score | _Pending]]) -> dict[Key, Future]:
        futures: dict[Key, Future] = {}
        timing: dict[Key, list[float]] = {}
        for row in plan:
            for item in row:
                if isinstance(item, _Pending):
                    item.pooled = timing
                if isinstance(item, _Pending) and item.key not in futures:
                    check = (
                        symbolic_equal
                        if len(item.key) == 2
                        else partial(parts_equal, rel_tol=self.params.scientific_rel_tol)
                    )
                    timing[item.key] = entry = [time.perf_counter(), math.nan]
                    futures[item.key] = _retrying(
                        self.pool, check, item.key, self.params.timeout, self.params.retry_timeout
                    )
                    futures[item.key].add_done_callback(
                        lambda _, entry=entry: entry.__setitem__(1, time.perf_counter())
                    )
        return futures

    def resolve(
        self,
        plan: list[list[Score | _Pending]],
        outcomes: dict[Key, tuple[Status, Any]],
    ) -> list[list[Score]]:
        for key, (status, result) in outcomes.items():
            if status is Status.OK:
                self._verdicts.put(key, result)
        scores = []
        for row in plan:
            resolved = []
            for item in row:
                if isinstance(item, Score):
                    resolved.append(item)
                    continue
                status, result = outcomes[item.key]
                if status is Status.OK:
                    resolved.append(self._verdict(result, item.info))
                else:
                    resolved.append(
                        Score(self.fallback, status, info={**item.info, "error": result})
                    )
                resolved[-1].seconds = item.local + _pool_seconds(item)
            scores.append(resolved)
        return scores

    def _verdict(self, result: tuple[bool | None, str], info: dict[str, Any]) -> Score:
        equal, note = result
        if note:
            info = {**info, "reason": note}
        if equal is None:
            return Score(self.fallback, Status.INVALID, info={**info, "code": "not_comparable"})
        return Score(float(equal), info=info if equal else {**info, "code": "wrong_answer"})
