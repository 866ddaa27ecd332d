"""A reward: a validated tree of components, and the batch methods a trainer calls.

`Reward.score` takes samples in any order, groups them by `group_id` (or, without one,
by prompt), runs the tree once over the whole batch, and returns one Score per sample
in input order. Input that cannot be read becomes a Score with status `invalid` and a
message naming the field; the rest of the batch is scored as usual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rewardsmith.core.component import Component
from rewardsmith.core.config import REGISTRY, BuildContext, ConfigError, did_you_mean, explain
from rewardsmith.core.types import Group, Sample, Score, Status
from rewardsmith.state import StateStore, resolve_url

DEFAULT_COMPLETION_CHARS = 1_000_000  # ~250k tokens: longer than any honest rollout


class InputLimits(BaseModel):
    """Bounds on untrusted input, checked before any component sees a sample. A sample
    over a bound gets status `invalid` and a reason naming the bound; it is left out of
    its group, so the other samples score exactly as if it had never been sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    completion_chars: int = Field(
        default=DEFAULT_COMPLETION_CHARS, ge=1, description="longest completion scored"
    )

    def refusal(self, sample: Sample) -> str | None:
        """Why `sample` is out of bounds, or None when it is within them."""
        if len(sample.completion) > self.completion_chars:
            return (
                f"completion: {len(sample.completion)} characters; expected at most "
                f"{self.completion_chars} (limits.completion_chars)"
            )
        return None


class RewardFile(BaseModel):
    """The top level of a YAML reward definition."""

    model_config = ConfigDict(extra="forbid")
    reward: Any
    description: str = ""
    workers: int | None = Field(default=None, ge=1)
    state: str | None = None
    limits: InputLimits = InputLimits()


@dataclass(frozen=True)
class RewardDefinition:
    """What a reward is built from, before it is built: plain data, so it can be sent to
    other processes (Ray workers) that build the same reward themselves."""

    spec: Any
    description: str = ""
    workers: int | None = None
    state: str | None = None
    base_dir: Path | None = None
    limits: InputLimits = field(default_factory=InputLimits)

    @classmethod
    def resolve(cls, name_or_path: str | Path) -> RewardDefinition:
        """A registered component name (`math`, ...) or a YAML reward file, read and
        checked for its top-level keys (ConfigError naming the file and key)."""
        if isinstance(name_or_path, str) and name_or_path in REGISTRY:
            return cls({"type": name_or_path})
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(
                f"reward: {str(name_or_path)!r} is neither a built-in reward "
                f"({', '.join(sorted(REGISTRY))}) nor a YAML file"
                f"{did_you_mean(str(name_or_path), REGISTRY)}"
            )
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping with a 'reward' key")
        try:
            parsed = RewardFile.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(explain(exc, f"{path}:", "reward file", RewardFile)) from None
        return cls(
            parsed.reward,
            parsed.description,
            parsed.workers,
            parsed.state,
            path.parent.resolve(),
            parsed.limits,
        )

    def build(self, workers: int | None = None, state: str | StateStore | None = None) -> Reward:
        """The reward; `workers` and `state` given here win over the definition's own."""
        return Reward.from_spec(
            self.spec,
            workers or self.workers or 1,
            self.description,
            state or self.state,
            base_dir=self.base_dir,
            limits=self.limits,
        )


class Reward:
    """A built reward, reusable across batches. Close it (or use `with`) to stop workers."""

    def __init__(
        self,
        root: Component,
        description: str = "",
        context: BuildContext | None = None,
        limits: InputLimits | None = None,
    ) -> None:
        self.root = root
        self.description = description
        self.context = context or BuildContext()
        self.limits = limits or InputLimits()

    @classmethod
    def from_spec(
        cls,
        spec: Any,
        workers: int = 1,
        description: str = "",
        state: str | StateStore | None = None,
        base_dir: str | Path | None = None,
        limits: InputLimits | None = None,
    ) -> Reward:
        """Build from a node (a mapping, or a registered component name).

        Relative file names in the spec (rubrics, caches) are taken from `base_dir`, by
        default the working directory; `load` passes the YAML file's directory.

        `state` is where adaptive components keep training state across batches: a URL
        (`memory://`, `sqlite:///path`, `redis://host:port/0`) or an open store; by
        default `$REWARDSMITH_STATE`, else SQLite in `.rewardsmith/` (opened only when a
        component needs it).

        `limits` bounds the untrusted input (see InputLimits; documented defaults).
        """
        if isinstance(state, str):
            try:
                resolve_url(state)
            except ValueError as exc:
                raise ConfigError(f"state: {exc}") from None
        context = BuildContext(
            workers=workers, state=state, base_dir=Path(base_dir) if base_dir else None
        )
        return cls(context.build(spec, "reward"), description, context, limits)

    @classmethod
    def load(
        cls,
        name_or_path: str | Path,
        workers: int | None = None,
        state: str | StateStore | None = None,
    ) -> Reward:
        """A registered component name (`math`, ...) or the path of a YAML reward file."""
        return RewardDefinition.resolve(name_or_path).build(workers, state)

    def score_groups(self, groups: list[Group]) -> list[list[Score]]:
        screen = Screen.of(groups, self.limits)
        return screen.merge(self.root.run(screen.kept) if screen.kept else [])

    async def ascore_groups(self, groups: list[Group]) -> list[list[Score]]:
        screen = Screen.of(groups, self.limits)
        return screen.merge(await self.root.arun(screen.kept) if screen.kept else [])

    def score(self, samples: Sequence[Sample | Mapping[str, Any]]) -> list[Score]:
        """One Score per sample, in input order."""
        batch = GroupedBatch.of(samples)
        return batch.scatter(self.score_groups(batch.groups) if batch.groups else [])

    async def ascore(self, samples: Sequence[Sample | Mapping[str, Any]]) -> list[Score]:
        """`score` for asyncio callers; CPU-heavy checks run in worker processes."""
        batch = GroupedBatch.of(samples)
        return batch.scatter(await self.ascore_groups(batch.groups) if batch.groups else [])

    @property
    def batch_wide(self) -> bool:
        """Whether a group's scores depend on the rest of its batch (see Component)."""
        return self.root.batch_wide()

    def usage(self) -> dict[str, float]:
        """Running totals of paid-for work so far: judge calls, cache hits, tokens, ..."""
        return self.context.usage()

    def warm_up(self) -> None:
        """Start worker processes now, e.g. while the first batch is being read."""
        self.root.warm_up()

    def close(self) -> None:
        self.root.close()
        self.context.close()

    def __enter__(self) -> Reward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Screen:
    """Groups with the samples that break the input limits taken out: `kept` is what the
    components score, and `merge` puts the refused samples' Scores back in place."""

    groups: list[Group]
    kept: list[Group]
    refused: dict[tuple[int, int], Score]  # (group, position) -> the refusal

    @classmethod
    def of(cls, groups: list[Group], limits: InputLimits) -> Screen:
        kept: list[Group] = []
        refused: dict[tuple[int, int], Score] = {}
        for g, group in enumerate(groups):
            within = []
            for s, sample in enumerate(group.samples):
                reason = limits.refusal(sample)
                if reason is None:
                    within.append(sample)
                else:
                    refused[g, s] = Score.failed(Status.INVALID, 0.0, reason, "over_limit")
            if within:
                kept.append(Group(group.group_id, within))
        return cls(groups, kept, refused)

    def merge(self, scores: list[list[Score]]) -> list[list[Score]]:
        """One row of Scores per original group, from one row per kept group."""
        rows = iter(scores)
        merged: list[list[Score]] = []
        for g, group in enumerate(self.groups):
            if all((g, s) in self.refused for s in range(len(group))):
                merged.append([self.refused[g, s] for s in range(len(group))])
                continue
            row = iter(next(rows))
            merged.append([self.refused.get((g, s)) or next(row) for s in range(len(group))])
        return merged


def parse_sample(data: Sample | Mapping[str, Any]) -> Sample:
    """A Sample from a mapping, or ValueError naming the first bad field."""
    if isinstance(data, Sample):
        return data
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    try:
        return Sample.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        if error["type"] == "value_error":  # our validators name the field themselves
            raise ValueError(error["msg"].removeprefix("Value error, ")) from None
        field = str(error["loc"][0]) if error["loc"] else "sample"
        return_msg = error["msg"] if error["type"] != "missing" else "missing"
        raise ValueError(f"{field}: {return_msg}{_expected(field)}") from None


_EXPECTED = {
    "completion": "a string",
    "prompt": "a string or a list of {role, content} messages",
    "group_id": "a string",
    "meta": "an object",
    "logprobs": "a list of numbers, one per completion token",
    "ref_logprobs": "a list of numbers, one per completion token",
    "token_offsets": "a list of [start, end] character spans, one per completion token",
    "steps": "a list of step texts",
    "step_scores": "a list of numbers, one per step",
}


def _expected(field: str) -> str:
    top = field.split(".")[0]
    return f" (expected {_EXPECTED[top]})" if top in _EXPECTED else ""


def group_key(sample: Sample) -> str:
    """Samples with the same group_id form a group; without one, the same prompt does."""
    return sample.group_id if sample.group_id is not None else "prompt:" + sample.prompt_text


@dataclass
class GroupedBatch:
    """Samples in input order, parsed and grouped: `groups` is what components score,
    and `scatter` puts their scores back in input order. Items that could not be parsed
    are kept in place as Scores with status `invalid`."""

    parsed: list[Sample | Score]
    groups: list[Group]
    where: dict[int, tuple[int, int]]  # input index -> (group, position in group)

    @classmethod
    def of(cls, samples: Sequence[Sample | Mapping[str, Any]]) -> GroupedBatch:
        parsed: list[Sample | Score] = []
        for item in samples:
            try:
                parsed.append(parse_sample(item))
            except ValueError as exc:
                parsed.append(Score.failed(Status.INVALID, 0.0, str(exc), "invalid_sample"))
        position: dict[str, int] = {}
        groups: list[Group] = []
        where: dict[int, tuple[int, int]] = {}
        for index, item in enumerate(parsed):
            if isinstance(item, Score):
                continue
            key = group_key(item)
            if key not in position:
                position[key] = len(groups)
                groups.append(Group(group_id=key, samples=[]))
            group = groups[position[key]]
            where[index] = (position[key], len(group.samples))
            group.samples.append(item)
        return cls(parsed, groups, where)

    def scatter(self, scores: list[list[Score]]) -> list[Score]:
        """One Score per input item, from one list of Scores per group."""
        out: list[Score] = []
        for index, item in enumerate(self.parsed):
            if isinstance(item, Score):
                out.append(item)
            else:
                g, s = self.where[index]
                out.append(scores[g][s])
        return out
