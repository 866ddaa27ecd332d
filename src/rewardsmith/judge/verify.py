"""`judge_verify`: a reference-based generative verifier for answers a rule cannot check.

An LLM judge reads the question, the reference answer and the response, and says whether
the response's answer matches the reference: a 0/1 reward for free-form answers in any
domain (Su et al., "Crossing the Reward Bridge: Expanding RL with Verifiable Rewards
Across Diverse Domains", arXiv 2503.23829).

Such judges give false positives to "master keys": answer-free completions such as ":",
"." or "Let's solve this problem step by step." (Zhao et al., "One Token to Fool
LLM-as-a-Judge", arXiv 2507.08794). So completions without a letter or digit, and
completions that only restate the question, get 0 without asking the judge; the response
is fenced (`prompts.fence`) so it cannot speak for the judge; and with `answer_only` the
judge sees only the extracted final answer, not the argument around it.
"""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from rewardsmith.core.component import require_reference
from rewardsmith.core.config import register
from rewardsmith.core.types import Group, Sample, Score
from rewardsmith.judge.backend import ChatRequest, ChatResult
from rewardsmith.judge.component import (
    JudgeComponent,
    JudgeParams,
    JudgePlan,
    plan_each,
    read_answer,
    unparseable,
)
from rewardsmith.judge.prompts import (
    RESPONSE,
    VERIFY_SYSTEM,
    VERIFY_TEMPLATE,
    check_template,
    fence,
    reference_text,
)
from rewardsmith.verify.qa import extract_short_answer
from rewardsmith.verify.text import final_region

VERDICTS = {"correct": 1.0, "incorrect": 0.0}
VERIFY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string"},
        "verdict": {"type": "string", "enum": list(VERDICTS)},
    },
    "required": ["reasoning", "verdict"],
    "additionalProperties": False,
}
RESTATE_SHARE = 0.5  # a completion inside the question must cover this share of it to count


def guard(completion: str, question: str) -> str | None:
    """Why `completion` gets 0 without a judge (no letter or digit, or only the question
    restated), or None. A short span of the question (a quoted option, a name) may be the
    answer, so a completion inside the question must cover half of it to count."""
    if not any(ch.isalnum() for ch in completion):
        return "no letter or digit"
    said, asked = _folded(completion), _folded(question)
    if asked and said in asked and len(said) >= RESTATE_SHARE * len(asked):
        return "restates the question"
    return None


def _folded(text: str) -> str:
    return " ".join(text.lower().split())


class JudgeVerifyParams(JudgeParams):
    """`template`: the user prompt, with {question}, {reference} and {response} (fenced);
    `answer_only`: send the extracted final answer instead of the whole completion;
    `guard`: decide answer-free and restated completions without the judge (turn off
    only to measure what the guards catch)."""

    template: str | None = None
    answer_only: bool = False
    guard: bool = True

    @field_validator("template")
    @classmethod
    def _known_placeholders(cls, template: str | None) -> str | None:
        return check_template(template, ("question", "reference", "response"))


@register("judge_verify")
class JudgeVerify(JudgeComponent):
    """1.0 when the judge finds the response's answer matches the reference, else 0.0."""

    Params = JudgeVerifyParams
    params: JudgeVerifyParams

    def plan(self, groups: list[Group]) -> JudgePlan:
        answers: dict[int, str | None] = {}  # under answer_only: what each sample answered

        def prepare(i: int, sample: Sample) -> Score | ChatRequest:
            item, answers[i] = self._prepare(sample)
            return item

        def read(i: int, result: ChatResult) -> Score:
            return self._read(result, answers[i])

        return plan_each(groups, prepare, read, self.fallback)

    def _prepare(self, sample: Sample) -> tuple[Score | ChatRequest, str | None]:
        """The sample's request, or its Score when it is decided without the judge; and,
        under `answer_only`, the answer extracted from it."""
        reference = require_reference(sample, "the reference answer")
        guarded = self.params.guard
        reason = guard(sample.completion, sample.prompt_text) if guarded else None
        response, answer = sample.completion, None
        if reason is None and self.params.answer_only:
            answer, why = extract_short_answer(final_region(sample.completion))
            if not answer:
                reason = f"no final answer: {why}"
            elif guarded:
                reason = guard(answer, "")
            response = answer
        if reason is not None:
            code = "no_answer" if answer == "" else "guard_rejected"
            info: dict[str, Any] = {"guard": reason, "code": code}
            if self.params.answer_only:
                info["answer"] = answer
            return Score(0.0, info=info), answer
        template = self.params.template or VERIFY_TEMPLATE
        text = template.format(
            question=sample.prompt_text,
            reference=reference_text(reference),
            response=fence(RESPONSE, response),
        )
        return ChatRequest.user(text, system=VERIFY_SYSTEM, json_schema=VERIFY_SCHEMA), answer

    def _read(self, result: ChatResult, answer: str | None) -> Score:
        parsed = read_answer(result, ["verdict"], self.fallback)
        score = parsed.failure or self._verdict(parsed.data or {}, result.text)
        if answer is not None:
            score.info["answer"] = answer
        score.info["call"] = parsed.call
        return score

    def _verdict(self, data: dict[str, Any], raw: str | None) -> Score:
        verdict = data["verdict"]
        if not isinstance(verdict, str) or verdict.strip().lower() not in VERDICTS:
            reason = f"verdict: expected 'correct' or 'incorrect', got {verdict!r}"
            return unparseable(self.fallback, reason, raw)
        verdict = verdict.strip().lower()
        info = {"verdict": verdict, "reasoning": data.get("reasoning")}
        if not VERDICTS[verdict]:
            info["code"] = "judged_incorrect"
        return Score(VERDICTS[verdict], info=info)
