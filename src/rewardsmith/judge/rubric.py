"""Rubric files: the meta-rubric a judge works under, and the verifiable checks beside it.

A rubric file (YAML, or the same mapping inline in a reward definition) follows the
Open Rubric System (OpenRS, arXiv 2602.14069): `principles` are the meta-rubric, each
with a `type` that sets its weight (fatal, core 5, important 2, highlight 1); fatal
principles are hard constraints. `verifiable` lists pointwise verifiable rubrics
(PVRs): programmatic checks that run before the judge. A PVR with `role: gate` is a
guardrail (failing it decides the sample, or the pair, without asking the judge); one
with `role: reward` adds `weight * passed` to the reward. Every check's pass/fail is in
the sample's `info`. Check kinds: `max_words`, `min_words`, `max_chars`; `require` /
`forbid` (regexes, case-insensitive); `json` (the completion parses as JSON); and
`component` (any reward component, passing at >= 0.5: a verifiable sub-answer).
`require` / `forbid` patterns are the rubric author's, searched through the completion by
Python's backtracking engine, so the author keeps them linear: a pattern that starts with
a repetition (`\\d+%`) is retried from every character of a long run of what it repeats
(quadratic time) unless anchored to the run's start (`(?<!\\d)\\d+%`); overlapping
repetitions (`\\s*\\s*x`) need possessive quantifiers (`*+`) or atomic groups (`(?>...)`).

    name: explain-like-an-engineer
    principles:
      - {name: factual_accuracy, type: fatal, description: No false technical claims.}
      - {name: answers_the_question, type: core, description: Says what was asked.}
    verifiable:
      - {name: word_limit, check: max_words, value: 250}
      - {name: no_links, check: forbid, value: ["https?://"]}
      - {name: names_tradeoff, check: require, value: ["trade-?off"], role: reward, weight: 0.1}
      - {name: final_answer, check: component, value: {type: math}}
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rewardsmith.core.component import Component
from rewardsmith.core.config import BuildContext, ConfigError, explain
from rewardsmith.core.types import Group, Sample
from rewardsmith.judge.aggregate import CRITERION_TYPES, DEFAULT_TYPE_WEIGHTS

PrincipleType = Literal["fatal", "core", "important", "highlight"]
CheckKind = Literal["max_words", "min_words", "max_chars", "require", "forbid", "json", "component"]
PASS_THRESHOLD = 0.5  # a component check passes when its value reaches this


class Principle(BaseModel):
    """One principle of the meta-rubric: what criteria derived from it judge. Its type
    sets its weight (the rubric's `weights`); fatal principles are hard constraints."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    type: PrincipleType = "core"


class VerifiableCheck(BaseModel):
    """A pointwise verifiable rubric: a programmatic check on the completion."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    check: CheckKind
    value: Any = None
    role: Literal["gate", "reward"] = "gate"
    weight: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _value_fits_check(self) -> VerifiableCheck:
        kind, value = self.check, self.value
        if kind in ("max_words", "min_words", "max_chars"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"check {kind!r} needs value: a whole number >= 0")
        elif kind in ("require", "forbid"):
            patterns = [value] if isinstance(value, str) else value
            if not isinstance(patterns, list) or not patterns:
                raise ValueError(f"check {kind!r} needs value: a regex or a list of regexes")
            for pattern in patterns:
                try:
                    re.compile(str(pattern))
                except re.error as exc:
                    raise ValueError(f"value: {pattern!r} is not a regex: {exc}") from None
        elif kind == "component" and not isinstance(value, dict | str):
            raise ValueError("check 'component' needs value: a component spec (a mapping)")
        if self.role == "reward" and self.weight == 0:
            raise ValueError("role 'reward' needs a weight > 0")
        if self.role == "gate" and self.weight != 0:
            raise ValueError("a gate has no weight; use role 'reward' to add to the reward")
        return self


class MetaRubric(BaseModel):
    """A rubric file: the principles the judge instantiates criteria from, the weight of
    each principle type, and the verifiable checks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "rubric"
    description: str = ""
    principles: list[Principle] = Field(min_length=1)
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_TYPE_WEIGHTS))
    verifiable: list[VerifiableCheck] = Field(default_factory=list)

    @field_validator("weights")
    @classmethod
    def _known_types(cls, weights: dict[str, float]) -> dict[str, float]:
        allowed = [t for t in CRITERION_TYPES if t != "fatal"]
        for key, weight in weights.items():
            if key not in allowed:
                raise ValueError(f"unknown type {key!r}; allowed: {', '.join(allowed)}")
            if weight < 0:
                raise ValueError(f"{key}: expected a weight >= 0, got {weight}")
        return {**DEFAULT_TYPE_WEIGHTS, **weights}

    @model_validator(mode="after")
    def _unique_names(self) -> MetaRubric:
        for what, names in (
            ("principles", [p.name for p in self.principles]),
            ("verifiable", [c.name for c in self.verifiable]),
        ):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{what}: duplicate name(s) {', '.join(repeated)}")
        return self

    def weight_of(self, principle: Principle) -> float:
        """The weight of the principle's type (fatal ones are hard constraints: 0)."""
        return self.weights.get(principle.type, 0.0)

    def render(self) -> str:
        """The principles as the judge sees them, one per line."""
        return "\n".join(f"- {p.name} [{p.type}]: {p.description.strip()}" for p in self.principles)


def load_rubric(value: str | dict[str, Any], ctx: BuildContext, path: str) -> MetaRubric:
    """A rubric from a file name (relative to the reward file) or an inline mapping."""
    where = f"{path}.rubric"
    if isinstance(value, str):
        file = ctx.path(value)
        try:
            data = yaml.safe_load(file.read_text())
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read rubric file {str(file)!r}: {exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: {str(file)!r} is not valid YAML: {exc}") from None
        where = f"{file}:"
    else:
        data = value
    if not isinstance(data, dict):
        raise ConfigError(f"{where} expected a mapping with 'principles'")
    try:
        return MetaRubric.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(explain(exc, where, "a rubric", MetaRubric)) from None


@dataclass
class CheckResults:
    """The verifiable checks' verdicts on one sample."""

    passed: dict[str, bool] = field(default_factory=dict)
    gates: list[str] = field(default_factory=list)  # names of the gates it failed
    bonus: float = 0.0  # sum of weight * passed over the reward-role checks

    @property
    def gated(self) -> bool:
        return bool(self.gates)

    def as_info(self) -> dict[str, Any]:
        return {"passed": self.passed, "failed_gates": self.gates, "bonus": self.bonus}


class Guardrails:
    """A rubric's verifiable checks, ready to run on a batch (component checks are built
    as child components and run once over the batch)."""

    def __init__(self, rubric: MetaRubric, ctx: BuildContext, path: str) -> None:
        self.checks = rubric.verifiable
        self.components: dict[str, Component] = {}
        for i, check in enumerate(self.checks):
            if check.check == "component":
                where = f"{path}.rubric.verifiable[{i}].value"
                self.components[check.name] = ctx.build(check.value, where)

    def children(self) -> list[Component]:
        return list(self.components.values())

    def run(self, groups: list[Group]) -> list[list[CheckResults]]:
        """The checks' verdicts, in the groups' shape. A component check passes when it
        scored ok and at least PASS_THRESHOLD; one that could not run fails."""
        by_component = {name: c.run(groups) for name, c in self.components.items()}
        results: list[list[CheckResults]] = []
        for g, group in enumerate(groups):
            row = []
            for s, sample in enumerate(group.samples):
                result = CheckResults()
                for check in self.checks:
                    if check.check == "component":
                        score = by_component[check.name][g][s]
                        passed = score.ok and score.value >= PASS_THRESHOLD
                    else:
                        passed = passes(check, sample)
                    result.passed[check.name] = passed
                    if check.role == "gate" and not passed:
                        result.gates.append(check.name)
                    if check.role == "reward":
                        result.bonus += check.weight * passed
                row.append(result)
            results.append(row)
        return results


def passes(check: VerifiableCheck, sample: Sample) -> bool:
    """A declarative check on the completion (`component` checks run in `Guardrails`)."""
    text = sample.completion
    match check.check:
        case "max_words":
            return len(text.split()) <= check.value
        case "min_words":
            return len(text.split()) >= check.value
        case "max_chars":
            return len(text) <= check.value
        case "require":
            return all(_search(p, text) for p in _patterns(check.value))
        case "forbid":
            return not any(_search(p, text) for p in _patterns(check.value))
        case "json":
            try:
                json.loads(text)
            except ValueError:
                return False
            return True
    raise ValueError(f"check {check.check!r} is not declarative")


def _patterns(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _search(pattern: str, text: str) -> bool:
    return re.search(pattern, text, re.IGNORECASE | re.MULTILINE) is not None


def rubric_file(path: str | Path) -> MetaRubric:
    """Read and validate a rubric file outside a reward definition (e.g. in a notebook)."""
    return load_rubric(str(path), BuildContext(), "rubric")
