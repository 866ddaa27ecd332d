"""`rubric_pairwise`: group rewards from criterion-level pairwise comparisons (OpenRS).

Open Rubric System (arXiv 2602.14069): for two responses to one prompt the judge
instantiates criteria adapted to their semantic differences, each derived from a
principle of the meta-rubric (pairwise adaptive meta-rubrics, PAMR), and says for each
criterion which response is better and by how much. It gives no overall verdict: the
criterion-level preferences are weighted here, by the principle's type
(`aggregate.pair_score`), so the reward is never one opaque number from the model.

For a group of G responses the pairs come from a schedule (all pairs, or a cyclic
round-robin with a budget of `neighbours` per side), each pair is judged in both orders
(a win counts only when both agree, so a judge that prefers whatever it sees first
produces ties, not rewards), and the outcomes become rewards by win rate or by a
Bradley-Terry fit. The rubric's verifiable checks run first: when exactly one response
of a pair fails a gate the pair is decided without the judge, and a gated response gets
`gate_value`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from rewardsmith.core.config import BuildContext, register
from rewardsmith.core.types import Group, Score, Status
from rewardsmith.judge.aggregate import (
    CriterionJudgement,
    OrderRule,
    PairOutcome,
    Schedule,
    bradley_terry,
    bt_rewards,
    combine_orders,
    flip,
    pair_schedule,
    pair_score,
    win_rates,
)
from rewardsmith.judge.backend import ChatRequest, ChatResult
from rewardsmith.judge.component import (
    JudgeAnswer,
    JudgePlan,
    RubricJudgeComponent,
    RubricParams,
    read_answer,
    unparseable,
)
from rewardsmith.judge.prompts import PAIRWISE_SYSTEM, PAIRWISE_TEMPLATE, RESPONSE, fence
from rewardsmith.judge.rubric import CheckResults


class PairwiseParams(RubricParams):
    """Parameters of `rubric_pairwise`."""

    pairs: Schedule = Schedule.ALL
    neighbours: int = Field(1, ge=1)
    both_orders: bool = True
    order_rule: OrderRule = OrderRule.AGREE
    aggregate: Literal["win_rate", "bradley_terry"] = "win_rate"
    prior: float = Field(1.0, gt=0)
    max_criteria: int = Field(6, ge=1)
    max_margin: int = Field(3, ge=1)
    gate_value: float = 0.0


@dataclass
class PairJob:
    """One scheduled pair of a group and, once judged, its outcome for `i`."""

    group: int
    i: int
    j: int
    requests: list[int] = field(default_factory=list)  # indices into the batch's requests
    source: str = "judge"
    outcome: float | None = None
    consistent: bool = True
    orders: list[dict[str, Any]] = field(default_factory=list)
    failure: Score | None = None


@register("rubric_pairwise")
class RubricPairwise(RubricJudgeComponent):
    """Rewards for a group from pairwise, criterion-by-criterion judge comparisons."""

    Params = PairwiseParams
    params: PairwiseParams

    def __init__(self, params: PairwiseParams, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        self.principles = {p.name: p for p in self.rubric.principles}
        self.system = PAIRWISE_SYSTEM.format(
            principles=self.rubric.render(),
            max_criteria=params.max_criteria,
            max_margin=params.max_margin,
        )
        self.schema = answer_schema(list(self.principles), params.max_margin)

    def plan(self, groups: list[Group]) -> JudgePlan:
        p = self.params
        checks = self.guardrails.run(groups)
        requests: list[ChatRequest] = []
        jobs: list[PairJob] = []
        for g, group in enumerate(groups):
            for i, j in pair_schedule(len(group), p.pairs, p.neighbours):
                job = PairJob(g, i, j)
                gated_i, gated_j = checks[g][i].gated, checks[g][j].gated
                if gated_i or gated_j:
                    job.source = "verifiable"
                    job.outcome = 0.5 if gated_i == gated_j else float(gated_j)
                else:
                    orders = [(i, j), (j, i)] if p.both_orders else [(i, j)]
                    for first, second in orders:
                        job.requests.append(len(requests))
                        requests.append(self._request(group, first, second))
                jobs.append(job)

        def finish(results: list[ChatResult]) -> list[list[Score]]:
            for job in jobs:
                if job.requests:
                    self._judge(job, [results[k] for k in job.requests])
            scores = [
                self._group_scores(g, group, jobs, checks[g]) for g, group in enumerate(groups)
            ]
            for job in jobs:  # a sample's time: the judge's on the pairs it was in
                if job.requests:
                    spent = sum(results[k].seconds for k in job.requests)
                    for member in (job.i, job.j):
                        score = scores[job.group][member]
                        score.seconds = (score.seconds or 0.0) + spent
            return scores

        return JudgePlan(requests, finish)

    def _request(self, group: Group, first: int, second: int) -> ChatRequest:
        sample = group.samples[first]
        text = PAIRWISE_TEMPLATE.format(
            question=sample.prompt_text,
            response_a=fence(f"{RESPONSE} A", sample.completion),
            response_b=fence(f"{RESPONSE} B", group.samples[second].completion),
        )
        return ChatRequest.user(text, system=self.system, json_schema=self.schema)

    def _judge(self, job: PairJob, results: list[ChatResult]) -> None:
        """Read both orders' answers; the pair's outcome for `i`, or why there is none."""
        scores: list[float] = []
        for k, result in enumerate(results):
            answer = read_answer(result, ["criteria"], self.fallback)
            criteria = answer.failure or self._criteria(answer, result.text)
            if isinstance(criteria, Score):
                job.failure = criteria
                return
            raw = pair_score([c for c, _ in criteria], self.rubric.weights)
            i_first = k == 0
            scores.append(raw if i_first else flip(raw))
            job.orders.append(
                {
                    "i_first": i_first,
                    "score_for_i": scores[-1],
                    "criteria": criteria,
                    "call": answer.call,
                }
            )
        job.outcome, job.consistent = combine_orders(
            scores[0], scores[1] if len(scores) > 1 else None, self.params.order_rule
        )

    def _criteria(
        self, answer: JudgeAnswer, text: str | None
    ) -> list[tuple[CriterionJudgement, str]] | Score:
        """The answer's criteria with their justifications, read strictly; an unusable
        answer becomes a Score."""
        raw = answer.data["criteria"] if answer.data else None
        if not isinstance(raw, list) or not raw:
            return unparseable(self.fallback, "'criteria' must be a non-empty list", text)
        max_margin = self.params.max_margin
        criteria = []
        for n, item in enumerate(raw):
            where = f"criteria[{n}]"
            if not isinstance(item, dict):
                return unparseable(self.fallback, f"{where}: expected an object", text)
            principle = self.principles.get(item.get("principle"))  # type: ignore[arg-type]
            if principle is None:
                allowed = ", ".join(self.principles)
                return unparseable(
                    self.fallback, f"{where}.principle: expected one of {allowed}", text
                )
            preferred, margin = item.get("preferred"), item.get("margin")
            if preferred not in ("A", "B", "same"):
                return unparseable(self.fallback, f"{where}.preferred: expected A, B or same", text)
            if (
                isinstance(margin, bool)
                or not isinstance(margin, int)
                or not 0 <= margin <= max_margin
            ):
                return unparseable(
                    self.fallback, f"{where}.margin: expected a whole number 0..{max_margin}", text
                )
            judgement = CriterionJudgement(
                name=str(item.get("criterion") or principle.name),
                type=principle.type,
                preferred=preferred,
                margin=margin,
            )
            criteria.append((judgement, str(item.get("justification", ""))))
        return criteria

    def _group_scores(
        self, g: int, group: Group, jobs: list[PairJob], checks: list[CheckResults]
    ) -> list[Score]:
        p = self.params
        n = len(group)
        if n < 2:
            reason = "group: rubric_pairwise needs at least 2 responses to compare, got 1"
            return [Score.failed(Status.INVALID, self.fallback, reason, "group_too_small")]
        mine = [job for job in jobs if job.group == g]
        decided = [job for job in mine if job.outcome is not None]
        outcomes = [PairOutcome(job.i, job.j, job.outcome, job.consistent) for job in decided]
        rates = win_rates(n, outcomes)
        if p.aggregate == "bradley_terry":
            strengths = bradley_terry(n, outcomes, prior=p.prior)
            values: list[float | None] = list(bt_rewards(strengths))
            values = [v if rates[k] is not None else None for k, v in enumerate(values)]
        else:
            strengths = None
            values = rates
        scores = []
        for k in range(n):
            involved = [job for job in mine if k in (job.i, job.j)]
            info: dict[str, Any] = {
                "comparisons": [self._comparison(job, k, group) for job in involved],
                "checks": checks[k].as_info(),
                "win_rate": rates[k],
            }
            if strengths is not None:
                info["strength"] = float(strengths[k])
            failed = [job.failure for job in involved if job.failure is not None]
            if checks[k].gated:
                score = Score(value=p.gate_value, info={**info, "code": "check_failed"})
            elif values[k] is None:
                worst = Status.worst([f.status for f in failed]) if failed else Status.ERROR
                info["error"] = "no comparison of this response could be judged"
                info["code"] = "judge_failed"
                score = Score(value=self.fallback, status=worst, info=info)
            else:
                score = Score(value=float(values[k]) + checks[k].bonus, info=info)
            info["failed_comparisons"] = len(failed)
            scores.append(score)
        return scores

    def _comparison(self, job: PairJob, k: int, group: Group) -> dict[str, Any]:
        """One pair as seen from response k: the opponent, the outcome for k, and every
        criterion with its preference written as this / other / same."""
        is_i = k == job.i
        entry: dict[str, Any] = {"opponent": job.j if is_i else job.i, "source": job.source}
        if job.failure is not None:
            entry["status"] = str(job.failure.status)
            entry["error"] = job.failure.info.get("error")
            entry["raw"] = job.failure.info.get("raw")
            return entry
        assert job.outcome is not None
        entry["outcome"] = job.outcome if is_i else 1.0 - job.outcome
        entry["consistent"] = job.consistent
        entry["orders"] = [_order_view(order, is_i) for order in job.orders]
        return entry


def _order_view(order: dict[str, Any], is_i: bool) -> dict[str, Any]:
    this, other = ("A", "B") if order["i_first"] == is_i else ("B", "A")
    names = {this: "this", other: "other", "same": "same"}
    return {
        "shown_first": "this" if order["i_first"] == is_i else "other",
        "score": order["score_for_i"] if is_i else flip(order["score_for_i"]),
        "criteria": [
            {
                "criterion": c.name,
                "type": c.type,
                "preferred": names[c.preferred],
                "margin": c.margin,
                "justification": justification,
            }
            for c, justification in order["criteria"]
        ],
        **order["call"],
    }


def answer_schema(principles: list[str], max_margin: int) -> dict[str, Any]:
    """The JSON schema of a pairwise answer (sent as response_format where supported)."""
    criterion = {
        "type": "object",
        "properties": {
            "criterion": {"type": "string"},
            "principle": {"type": "string", "enum": principles},
            "preferred": {"type": "string", "enum": ["A", "B", "same"]},
            "margin": {"type": "integer", "minimum": 0, "maximum": max_margin},
            "justification": {"type": "string"},
        },
        "required": ["criterion", "principle", "preferred", "margin", "justification"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"criteria": {"type": "array", "items": criterion, "minItems": 1}},
        "required": ["criteria"],
        "additionalProperties": False,
    }
