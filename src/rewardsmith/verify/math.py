"""`math`: reward 1 when the completion's final answer is equivalent to the gold.

Three layers, cheapest first:
1. extraction (`math_answer`): one final answer or none (hedges and shotguns get none);
2. the fast path (`math_normalize`): equal spellings and plain numbers are decided in
   the calling process, without sympy;
3. math-verify (`math_symbolic`) in worker processes for everything else, each check
   under a hard time limit (the worker is killed and replaced when it overruns). A batch
   asks each distinct (gold, answer) pair once, and verdicts are cached across batches.

A completion whose answer is longer than `max_answer_chars`, or has a number of more
than `max_number_digits` digits, gets status invalid before any comparison (golds come
from the dataset and are not capped; the fast path bounds its own work on them). A
sample that makes local judging raise gets status error alone. Caches are bounded by
entries and bytes (`core.cache`), and items over 64 KB are not cached.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
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
    count_items,
    extract_answer,
)
from rewardsmith.verify.math_normalize import fast_equal, normalize
from rewardsmith.verify.math_symbolic import symbolic_equal, warm_up
from rewardsmith.verify.text import boxed_contents

VERDICT_CACHE_ENTRIES, VERDICT_CACHE_BYTES = 65536, 64 << 20
GOLD_CACHE_ENTRIES, GOLD_CACHE_BYTES = 16384, 16 << 20
CACHE_ITEM_BYTES = 64 << 10


class MathParams(Params):
    timeout: float = Field(default=5.0, gt=0, description="seconds per symbolic check")
    memory_mb: int = Field(
        default=DEFAULT_MEMORY_MB,
        ge=256,
        description="memory limit (address space) of each check process, in MiB; a check "
        "that runs into it gets status error",
    )
    on_conflict: Literal["reject", "last"] = "reject"
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


@dataclass
class _Pending:
    key: tuple[str, str]
    info: dict[str, Any]


@cached(GOLD_CACHE_ENTRIES, GOLD_CACHE_BYTES, max_item_bytes=CACHE_ITEM_BYTES)
def _gold(reference: str) -> tuple[str, int]:
    """Normalised gold and how many values it lists; shared by every sample of a group.

    A gold written as a solution with `\\boxed{}` is reduced to its last boxed answer.
    """
    boxed = boxed_contents(reference)
    answer = boxed[-1] if boxed else reference
    return normalize(answer), count_items(answer)


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


@register("math")
class MathVerifier(PooledComponent[list[list[Score | _Pending]], tuple[str, str]]):
    """Final-answer correctness for math, with math-verify as the equivalence backend."""

    Params = MathParams
    params: MathParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        self.pool = WorkerPool(ctx.workers, initializer=warm_up, memory_mb=self.params.memory_mb)
        self.limits = Limits(self.params.max_answer_chars, self.params.max_number_digits)
        self._verdicts: BoundedCache[tuple[str, str], tuple[bool | None, str]] = BoundedCache(
            VERDICT_CACHE_ENTRIES, VERDICT_CACHE_BYTES, max_item_bytes=CACHE_ITEM_BYTES
        )

    def plan(self, groups: list[Group]) -> list[list[Score | _Pending]]:
        """Each sample judged locally on its own: what it raises fails only that sample."""
        return [
            [guarded(self.fallback, self._judge_locally, sample) for sample in group.samples]
            for group in groups
        ]

    def _judge_locally(self, sample: Sample) -> Score | _Pending:
        gold, items = _gold(gold_text(sample.reference))
        found = extract_answer(
            sample.completion, items, self.params.on_conflict, sample.prompt_text, self.limits
        )
        info: dict[str, Any] = {"extracted": found.answer, "gold": gold, "source": found.source}
        if found.out_of_bounds:
            return Score(self.fallback, Status.INVALID, info={**info, "reason": found.reason})
        if found.answer is None:
            info["reason"] = found.reason or "no final answer found"
            return Score(0.0, info=info)
        key = (gold, found.answer)
        if (cached_verdict := self._verdicts.get(key)) is not None:
            return self._verdict(cached_verdict, {**info, "path": "cache"})
        decided = fast_equal(gold, found.answer) if self.params.fast_path else None
        if decided is not None:
            return Score(float(decided), info={**info, "path": "fast"})
        return _Pending(key, {**info, "path": "symbolic"})

    def submit(self, plan: list[list[Score | _Pending]]) -> dict[tuple[str, str], Future]:
        futures: dict[tuple[str, str], Future] = {}
        for row in plan:
            for item in row:
                if isinstance(item, _Pending) and item.key not in futures:
                    futures[item.key] = self.pool.submit(
                        symbolic_equal, *item.key, timeout=self.params.timeout
                    )
        return futures

    def resolve(
        self,
        plan: list[list[Score | _Pending]],
        outcomes: dict[tuple[str, str], tuple[Status, Any]],
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
            scores.append(resolved)
        return scores

    def _verdict(self, result: tuple[bool | None, str], info: dict[str, Any]) -> Score:
        equal, note = result
        if note:
            info = {**info, "reason": note}
        if equal is None:
            return Score(self.fallback, Status.INVALID, info=info)
        return Score(float(equal), info=info)
