"""`majority_vote`: a label-free reward from the group's own answers (TTRL, Zuo et al.,
"TTRL: Test-Time Reinforcement Learning", arXiv 2504.16084): 1 for a sample whose final
answer is the group's majority answer, 0 otherwise.

Each sample's final answer is read with `math`'s extractor (so hedges, shotguns and
master keys give no answer, and no vote). Answers are grouped by `math`'s equivalence,
not by string: every two distinct answers of a group are checked with a `math` verifier
(one as the gold, the other as the answer, both ways), all groups' checks in one batch,
and equivalent answers joined (union-find). The largest cluster is the majority; its
share counts every sample of the group, answered or not. Below `min_share`, or when two
clusters tie, the group gets no signal (every sample 0, `code: no_majority`): TTRL itself
has no threshold (`min_share: 0`), but a weak plurality of a hard prompt is mostly noise.
No label is read: a group that agrees on a wrong answer is paid (the method's known
limit, probed by `rewardsmith probe-judge --task majority_vote`).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, create_model

from rewardsmith.core.component import Component, Params
from rewardsmith.core.config import BuildContext, register
from rewardsmith.core.types import Group, Sample, Score
from rewardsmith.verify.answered import EXTRACTION_SETTINGS
from rewardsmith.verify.math import MathParams, extraction_rules
from rewardsmith.verify.math_answer import extract_answer

# `math`'s extraction settings (as `answered` takes them), and the threshold
MajorityVoteParams = create_model(
    "MajorityVoteParams",
    __base__=Params,
    min_share=(float, Field(0.5, ge=0.0, le=1.0, description="the majority's least share")),
    **{
        name: (MathParams.model_fields[name].annotation, MathParams.model_fields[name])
        for name in EXTRACTION_SETTINGS
    },
)


@register("majority_vote")
class MajorityVote(Component):
    """1 for the group's majority answer (by `math` equivalence), 0 for the rest."""

    Params = MajorityVoteParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        settings = {name: getattr(self.params, name) for name in EXTRACTION_SETTINGS}
        self.equivalence = ctx.build(
            {"type": "math", "name": f"{self.name}_equivalence", **settings}, f"{self.path}.math"
        )
        self.rules = extraction_rules(self.equivalence.params)

    def children(self) -> list[Component]:
        return [self.equivalence]

    def score_batch(self, groups: list[Group]) -> list[list[Score]]:
        answers = [[self._answer(sample) for sample in group.samples] for group in groups]
        distinct = [sorted({a for a in group if a is not None}) for group in answers]
        checks, where = [], []
        for index, values in enumerate(distinct):
            for i, first in enumerate(values):
                for second in values[i + 1 :]:
                    checks.append(_pair_group(first, second, len(checks)))
                    where.append((index, first, second))
        verdicts = self.equivalence.run(checks) if checks else []
        same: list[list[tuple[str, str]]] = [[] for _ in groups]
        for (index, first, second), pair in zip(where, verdicts, strict=True):
            if all(score.ok and score.value == 1.0 for score in pair):  # equivalent both ways
                same[index].append((first, second))
        return [
            self._vote(group_answers, values, links)
            for group_answers, values, links in zip(answers, distinct, same, strict=True)
        ]

    def _answer(self, sample: Sample) -> str | None:
        found = extract_answer(sample.completion, 1, sample.prompt_text, self.rules)
        return None if found.answer is None else found.answer.strip()

    def _vote(
        self, answers: list[str | None], values: list[str], links: list[tuple[str, str]]
    ) -> list[Score]:
        cluster = _clusters(values, links)
        sizes: dict[str, int] = {}
        for answer in answers:
            if answer is not None:
                sizes[cluster[answer]] = sizes.get(cluster[answer], 0) + 1
        ranked = sorted(sizes.items(), key=lambda item: -item[1])
        top, count = ranked[0] if ranked else (None, 0)
        share = count / len(answers)
        tie = len(ranked) > 1 and ranked[1][1] == count
        no_signal = top is None or tie or share < self.params.min_share
        scores = []
        for answer in answers:
            info: dict[str, Any] = {
                "answer": answer,
                "majority": None if no_signal else top,
                "share": round(share, 4),
                "clusters": len(sizes),
            }
            won = not no_signal and answer is not None and cluster[answer] == top
            if not won:
                info["code"] = (
                    "no_answer" if answer is None else "no_majority" if no_signal else "minority"
                )
            scores.append(Score(float(won), info={self.name: info}))  # (not a leaf)
        return scores


def _pair_group(first: str, second: str, index: int) -> Group:
    """Two checks: each answer against the other as the gold."""
    samples = [
        Sample(completion=f"<answer>{second}</answer>", reference=first),
        Sample(completion=f"<answer>{first}</answer>", reference=second),
    ]
    return Group(f"pair-{index}", samples)


def _clusters(values: list[str], links: list[tuple[str, str]]) -> dict[str, str]:
    """Each answer's cluster, named by its first (sorted) member: union-find."""
    parent = {value: value for value in values}

    def root(value: str) -> str:
        while parent[value] != value:
            parent[value] = parent[parent[value]]
            value = parent[value]
        return value

    for first, second in links:
        a, b = root(first), root(second)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {value: root(value) for value in values}
