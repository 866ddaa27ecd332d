"""What every judge component shares: its backend, the plan-then-ask pattern, and how a
judge's answer becomes a Score or a clear status.

A judge component builds a `JudgePlan` for a batch (the chat requests, plus a function
that turns their results into Scores), so the synchronous and the asyncio paths differ
only in how the requests are sent: all of a batch's requests go out together, within
the backend's concurrency limit, and identical ones are sent once.

The `judge:` section of a component's config holds the `JudgeConfig` fields (server,
model, sampling, cache). Components with equal settings share one backend, so the batch
summary can add up calls, cache hits and tokens. A relative `cache_path` is taken from
the reward file's directory.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field, ValidationError

from rewardsmith.core.component import Component, Params, guarded
from rewardsmith.core.config import BuildContext, ConfigError, explain
from rewardsmith.core.types import Group, Sample, Score, Status, regroup
from rewardsmith.judge.backend import ChatRequest, ChatResult, ChatStatus, JudgeBackend, JudgeConfig
from rewardsmith.judge.parse import parse_json_answer
from rewardsmith.judge.rubric import Guardrails, MetaRubric, load_rubric

Finish = Callable[[list[ChatResult]], list[list[Score]]]


class JudgeParams(Params):
    """Base parameters of a judge component: `judge` holds the JudgeConfig fields."""

    judge: dict[str, Any] = Field(default_factory=dict)


@dataclass
class JudgePlan:
    """The requests a batch needs and how their results (same order) become Scores."""

    requests: list[ChatRequest]
    finish: Finish


def judge_config(settings: dict[str, Any], ctx: BuildContext, path: str) -> JudgeConfig:
    """A validated JudgeConfig from a component's `judge:` section; errors name the key."""
    settings = dict(settings)
    if settings.get("cache_path") is not None:
        settings["cache_path"] = ctx.path(settings["cache_path"])
    try:
        return JudgeConfig.model_validate(settings)
    except ValidationError as exc:
        raise ConfigError(explain(exc, f"{path}.judge", "the judge", JudgeConfig)) from None


class JudgeComponent(Component):
    """A component whose verdicts come from an LLM judge. Subclasses implement `plan`."""

    Params = JudgeParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        assert isinstance(params, JudgeParams)
        config = judge_config(params.judge, ctx, self.path)
        key = "judge:" + config.model_dump_json()
        self.backend: JudgeBackend = ctx.shared(key, lambda: JudgeBackend(config))

    @abstractmethod
    def plan(self, groups: list[Group]) -> JudgePlan:
        """The requests for this batch and how to read their answers."""

    def score_batch(self, groups: list[Group]) -> list[list[Score]]:
        plan = self.plan(groups)
        results = self.backend.complete_many_sync(plan.requests) if plan.requests else []
        return plan.finish(results)

    async def ascore_batch(self, groups: list[Group]) -> list[list[Score]]:
        plan = await asyncio.to_thread(self.plan, groups)  # a plan may run CPU-heavy checks
        results = await self.backend.complete_many(plan.requests) if plan.requests else []
        return plan.finish(results)


class RubricParams(JudgeParams):
    """Base parameters of a judge that works under a rubric (a file name relative to the
    reward file, or the rubric inline)."""

    rubric: str | dict[str, Any]


class RubricJudgeComponent(JudgeComponent):
    """A judge component with a rubric, whose verifiable checks run before the judge.

    The checks' components are not `children()`: with children, `_finish` would not put
    this component's info under its name; `warm_up` and `close` reach them here.
    """

    Params = RubricParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        assert isinstance(params, RubricParams)
        self.rubric: MetaRubric = load_rubric(params.rubric, ctx, self.path)
        self.guardrails = Guardrails(self.rubric, ctx, self.path)

    def warm_up(self) -> None:
        for check in self.guardrails.children():
            check.warm_up()

    def close(self) -> None:
        for check in self.guardrails.children():
            check.close()


def plan_each(
    groups: list[Group],
    prepare: Callable[[int, Sample], Score | ChatRequest],
    read: Callable[[int, ChatResult], Score],
    fallback: float,
) -> JudgePlan:
    """A plan for judging samples one by one. `prepare(i, sample)` gives sample i (of the
    flattened groups) its Score when it is decided without the judge, else its request;
    `read(i, result)` turns the answer for sample i into its Score. Either failing for
    one sample fails that sample alone (see `guarded`)."""
    samples = [sample for group in groups for sample in group.samples]
    prepared = [guarded(fallback, prepare, i, sample) for i, sample in enumerate(samples)]
    requests = [item for item in prepared if isinstance(item, ChatRequest)]

    def finish(results: list[ChatResult]) -> list[list[Score]]:
        answers = iter(results)
        flat = []
        for i, item in enumerate(prepared):
            if isinstance(item, Score):  # decided without the judge
                flat.append(item)
                continue
            answer = next(answers)
            score = guarded(fallback, read, i, answer)
            score.seconds = answer.seconds  # the sample's time is the judge's
            flat.append(score)
        return regroup(groups, flat)

    return JudgePlan(requests, finish)


@dataclass
class JudgeAnswer:
    """A judge's answer: the parsed object, or the Score that says why there is none."""

    data: dict[str, Any] | None
    failure: Score | None
    call: dict[str, Any]


def read_answer(result: ChatResult, keys: Sequence[str], fallback: float) -> JudgeAnswer:
    """Parse a result's JSON answer. A failed call keeps its status (timeout or error); a
    text that cannot be read is `unparseable` with the raw text in `info`."""
    call = {
        "cached": result.cached,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
    }
    if not result.ok:
        status = Status.TIMEOUT if result.status is ChatStatus.TIMEOUT else Status.ERROR
        failed = Score.failed(status, fallback, f"judge: {result.error}", f"judge_{status}")
        return JudgeAnswer(None, failed, call)
    data, reason = parse_json_answer(result.text, keys)
    if data is None:
        return JudgeAnswer(None, unparseable(fallback, reason or "unreadable", result.text), call)
    return JudgeAnswer(data, None, call)


def unparseable(fallback: float, reason: str, raw: str | None) -> Score:
    """The Score for a judge answer that says nothing usable, keeping what it said."""
    return Score(
        value=fallback,
        status=Status.UNPARSEABLE,
        info={"error": f"judge answer: {reason}", "code": "judge_unparseable", "raw": raw},
    )
