"""`trajectory`: a multi-turn agent rollout with tool results (an OpenAI message list in
the sample's `messages`), scored on its final answer and on how it got there.

- The final answer: the `outcome` component (any: `math`, `qa`, `tool_call`, a judge)
  scores the last assistant message's text, with the sample's reference and prompt; it
  is the reward, and with `gate: true` (default) nothing else can raise a reward the
  answer did not earn: the turn penalties below only lower it.
- Named parts, also in `Score.components`: `turns` (assistant turns), `tool_errors`
  (tool results that report an error: a message with `is_error: true` or `status:
  "error"`, JSON content with an `error` key, or content starting with `Error`,
  `Exception` or `Traceback`), `repeated_calls` (calls identical in name and arguments
  to an earlier one of the rollout).
- Per turn (the process machinery's steps are the assistant turns): turn t's reward is
  -error_penalty per error its calls got back, -repeat_penalty per call it repeated, and
  the last turn adds the outcome; the reward is their sum (so `sum(dense) == value`).
  `Score.dense` spans each assistant turn's text where it is found, in order, in the
  sample's completion (the rendered rollout); `info.trajectory.turn_rewards` has them
  either way. Turns beyond `max_turns` each cost `turn_penalty` too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import Field

from rewardsmith.core.component import Component, InvalidSample, Params, guarded
from rewardsmith.core.config import BuildContext, register
from rewardsmith.core.types import DenseReward, Group, Sample, Score, regroup
from rewardsmith.process.steps import SegmentationError, segment
from rewardsmith.verify.tool_calls import call_key, to_call

ERROR_STARTS = ("error", "exception", "traceback")
MAX_MESSAGES = 512


class TrajectoryParams(Params):
    outcome: Any = Field(description="the component that scores the final answer")
    gate: bool = True
    error_penalty: float = Field(0.1, ge=0)
    repeat_penalty: float = Field(0.1, ge=0)
    max_turns: int | None = Field(None, ge=1)
    turn_penalty: float = Field(0.05, ge=0)


@register("trajectory")
class Trajectory(Component):
    """The final answer's reward, less per-turn penalties for tool errors and repeats."""

    Params = TrajectoryParams
    params: TrajectoryParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        self.outcome = ctx.build(self.params.outcome, f"{self.path}.outcome")

    def children(self) -> list[Component]:
        return [self.outcome]

    def score_batch(self, groups: list[Group]) -> list[list[Score]]:
        samples = [sample for group in groups for sample in group.samples]
        read = [guarded(self.fallback, _read, sample) for sample in samples]
        finals = [
            Group(f"final-{i}", [self._final_sample(sample, r)])
            for i, (sample, r) in enumerate(zip(samples, read, strict=True))
            if not isinstance(r, Score)
        ]
        outcomes = iter(self.outcome.run(finals) if finals else [])
        flat = [
            _named(self.name, r) if isinstance(r, Score) else self._score(s, r, next(outcomes)[0])
            for s, r in zip(samples, read, strict=True)
        ]
        return regroup(groups, flat)

    def _final_sample(self, sample: Sample, turns: list[dict[str, Any]]) -> Sample:
        return Sample(
            prompt=sample.prompt,
            completion=turns[-1]["text"] if turns else "",
            reference=sample.reference,
            group_id=sample.group_id,
            meta=sample.meta,
        )

    def _score(self, sample: Sample, turns: list[dict[str, Any]], outcome: Score) -> Score:
        p = self.params
        rewards = []
        for index, turn in enumerate(turns):
            reward = 0.0 - p.error_penalty * turn["errors"] - p.repeat_penalty * turn["repeats"]
            if p.max_turns is not None and index >= p.max_turns:
                reward -= p.turn_penalty
            rewards.append(reward)
        answer = outcome.value if outcome.ok else 0.0
        if rewards:
            rewards[-1] += answer
        value = sum(rewards) if rewards else answer
        if p.gate:
            value = min(value, answer)
        parts = {
            "turns": float(len(turns)),
            "tool_errors": float(sum(turn["errors"] for turn in turns)),
            "repeated_calls": float(sum(turn["repeats"] for turn in turns)),
        }
        info: dict[str, Any] = {**parts, "turn_rewards": [round(r, 6) for r in rewards]}
        if not turns:
            info["code"] = "no_assistant_turn"
        score = Score(value, info={self.name: info}, dense=_dense(sample, turns, rewards))
        score.absorb(outcome)
        for part, part_value in parts.items():
            score.components[f"{self.name}.{part}"] = part_value
        return score


def _named(name: str, failed: Score) -> Score:
    """A failed read's score, its info under the component's name (not a leaf)."""
    failed.info = {name: failed.info}
    return failed


def _dense(
    sample: Sample, turns: list[dict[str, Any]], rewards: list[float]
) -> list[DenseReward] | None:
    """Each turn's reward over its text in the completion, where all turns are found in
    order; None otherwise."""
    texts = [turn["text"] for turn in turns if turn["text"].strip()]
    if not texts or len(texts) != len(turns):
        return None
    try:
        steps = segment(sample.completion, "given", None, texts, sample.token_offsets)
    except SegmentationError:
        return None
    return [
        DenseReward(step.start, step.end, reward, step.token_start, step.token_end)
        for step, reward in zip(steps, rewards, strict=True)
    ]


def _read(sample: Sample) -> list[dict[str, Any]]:
    """The assistant turns after the last user message: text, calls, the errors their
    calls got back, and how many calls repeat an earlier one."""
    messages = (sample.model_extra or {}).get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidSample(
            "messages: missing; expected the rollout as an OpenAI message list "
            "(role, content, tool_calls, tool_call_id)",
            "missing_messages",
        )
    if len(messages) > MAX_MESSAGES:
        raise InvalidSample(f"messages: {len(messages)} messages; at most {MAX_MESSAGES}")
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise InvalidSample(f"messages[{index}]: expected an object with a 'role'")
    start = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1) + 1
    turns: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index in range(start, len(messages)):
        message = messages[index]
        if message["role"] == "assistant":
            calls = []
            for k, item in enumerate(message.get("tool_calls") or []):
                call, problem = to_call(item, f"messages[{index}].tool_calls[{k}]")
                if problem:
                    raise InvalidSample(problem)
                calls.append(call)
            keys = [call_key(call) for call in calls]
            repeats = sum(key in seen for key in keys)
            seen.update(keys)
            text = message.get("content") or ""
            turns.append(
                {
                    "text": text if isinstance(text, str) else "",
                    "calls": len(calls),
                    "errors": 0,
                    "repeats": repeats,
                }
            )
        elif message["role"] == "tool" and turns and _is_error(message):
            turns[-1]["errors"] += 1
    return turns


def _is_error(message: Mapping[str, Any]) -> bool:
    if message.get("is_error") is True or message.get("status") == "error":
        return True
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    if text.lstrip().lower().startswith(ERROR_STARTS):
        return True
    if text.lstrip().startswith("{"):
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            return False
        return isinstance(parsed, Mapping) and bool(parsed.get("error"))
    return False
