"""`judge_score`: pointwise rubric scoring of each response by an LLM judge.

The rubric follows the Open Rubric System (OpenRS, arXiv 2602.14069): its principles are
the criteria, each typed fatal, core, important or highlight. The judge scores every
principle from 0 to `scale`; the reward is the weighted mean of the non-fatal scores
(weights by type: core 5, important 2, highlight 1), and a fatal principle scored below
`fatal_below * scale` is a violated hard constraint that zeroes it. As in OpenRS, the
rubric's verifiable checks run first: a sample that fails a gate gets `gate_value` and
is not sent to the judge; reward-role checks add `weight * passed`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from rewardsmith.core.component import Params
from rewardsmith.core.config import BuildContext, register
from rewardsmith.core.types import Group, Sample, Score
from rewardsmith.judge.backend import ChatRequest, ChatResult
from rewardsmith.judge.component import (
    JudgePlan,
    RubricJudgeComponent,
    RubricParams,
    plan_each,
    read_answer,
    unparseable,
)
from rewardsmith.judge.prompts import (
    REFERENCE_SECTION,
    RESPONSE,
    SCORE_SYSTEM,
    SCORE_TEMPLATE,
    check_template,
    fence,
    reference_text,
)
from rewardsmith.judge.rubric import CheckResults, Principle


class JudgeScoreParams(RubricParams):
    """`rubric`: a rubric file (relative to the reward file) or an inline mapping;
    `scale`: the top score of a principle; `fatal_below`: the share of the scale a fatal
    principle must reach; `gate_value`: the reward of a sample that fails a gate;
    `template`: the user prompt, with {rubric}, {scale}, {question}, {reference} (a
    section, empty without a reference) and {response} (fenced)."""

    scale: int = Field(10, ge=1)
    fatal_below: float = Field(0.5, gt=0.0, le=1.0)
    gate_value: float = 0.0
    template: str | None = None

    @field_validator("template")
    @classmethod
    def _known_placeholders(cls, template: str | None) -> str | None:
        return check_template(template, ("rubric", "scale", "question", "reference", "response"))


def criteria_schema(names: list[str], scale: int) -> dict[str, Any]:
    """The JSON schema of an answer scoring every principle in `names` once."""
    criterion = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": names},
            "justification": {"type": "string"},
            "score": {"type": "integer", "minimum": 0, "maximum": scale},
        },
        "required": ["name", "justification", "score"],
        "additionalProperties": False,
    }
    criteria = {
        "type": "array",
        "items": criterion,
        "minItems": len(names),
        "maxItems": len(names),
    }
    return {
        "type": "object",
        "properties": {"criteria": criteria},
        "required": ["criteria"],
        "additionalProperties": False,
    }


def read_criteria(
    data: dict[str, Any], names: list[str], scale: int
) -> tuple[dict[str, tuple[int, str]] | None, str | None]:
    """({name: (score, justification)}, None) when every principle is scored exactly
    once with a whole number in 0..scale; otherwise (None, what is wrong)."""
    items = data["criteria"]
    if not isinstance(items, list):
        return None, f"criteria: expected a list, got {type(items).__name__}"
    scored: dict[str, tuple[int, str]] = {}
    for i, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        score = item.get("score") if isinstance(item, dict) else None
        if name not in names:
            return None, f"criteria[{i}]: unknown principle {name!r}"
        if name in scored:
            return None, f"criteria[{i}]: principle {name!r} scored twice"
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= scale:
            expected = f"a whole number in 0..{scale}"
            return None, f"criteria[{i}]: score of {name!r}: expected {expected}, got {score!r}"
        scored[name] = (score, str(item.get("justification", "")))
    missing = [name for name in names if name not in scored]
    if missing:
        return None, f"criteria: missing principle(s) {', '.join(missing)}"
    return scored, None


@register("judge_score")
class JudgeScore(RubricJudgeComponent):
    """The judge's weighted rubric score of each response, after the rubric's checks."""

    Params = JudgeScoreParams
    params: JudgeScoreParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        self.names = [p.name for p in self.rubric.principles]
        self.schema = criteria_schema(self.names, self.params.scale)

    def plan(self, groups: list[Group]) -> JudgePlan:
        checks = [c for row in self.guardrails.run(groups) for c in row]
        return plan_each(
            groups,
            lambda i, sample: self._prepare(sample, checks[i]),
            lambda i, result: self._read(result, checks[i]),
            self.fallback,
        )

    def _prepare(self, sample: Sample, checks: CheckResults) -> Score | ChatRequest:
        if checks.gated:
            guard = f"failed gate(s): {', '.join(checks.gates)}"
            info = {"guard": guard, "checks": checks.as_info(), "code": "check_failed"}
            return Score(self.params.gate_value, info=info)
        reference = ""
        if sample.reference is not None and sample.reference != "":
            reference = REFERENCE_SECTION.format(reference=reference_text(sample.reference))
        text = (self.params.template or SCORE_TEMPLATE).format(
            rubric=self.rubric.render(),
            scale=self.params.scale,
            question=sample.prompt_text,
            reference=reference,
            response=fence(RESPONSE, sample.completion),
        )
        return ChatRequest.user(text, system=SCORE_SYSTEM, json_schema=self.schema)

    def _read(self, result: ChatResult, checks: CheckResults) -> Score:
        parsed = read_answer(result, ["criteria"], self.fallback)
        score = parsed.failure or self._value(parsed.data or {}, result.text, checks)
        score.info["checks"] = checks.as_info()
        score.info["call"] = parsed.call
        return score

    def _value(self, data: dict[str, Any], raw: str | None, checks: CheckResults) -> Score:
        scored, reason = read_criteria(data, self.names, self.params.scale)
        if scored is None:
            return unparseable(self.fallback, reason or "unreadable criteria", raw)
        scale = self.params.scale
        criteria = [self._criterion(p, *scored[p.name]) for p in self.rubric.principles]
        violated = [
            c["name"]
            for c in criteria
            if c["type"] == "fatal" and c["score"] < self.params.fatal_below * scale
        ]
        total = sum(c["weight"] for c in criteria)
        mean = sum(c["weight"] * c["score"] / scale for c in criteria) / total if total else 1.0
        value = (0.0 if violated else mean) + checks.bonus
        return Score(value, info={"criteria": criteria, "violated": violated})

    def _criterion(self, principle: Principle, score: int, justification: str) -> dict[str, Any]:
        return {
            "name": principle.name,
            "type": principle.type,
            "weight": self.rubric.weight_of(principle),  # 0 for a fatal principle
            "score": score,
            "justification": justification,
        }
