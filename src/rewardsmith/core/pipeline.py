"""A reward: a validated tree of components, and the batch methods a trainer calls.

`Reward.score` takes samples in any order, groups them by `group_id` (or, without one,
by prompt), runs the tree once over the whole batch, and returns one Score per sample
in input order. Input that cannot be read becomes a Score with status `invalid` and a
message naming the field; the rest of the batch is scored as usual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rewardsmith.core.component import Component
from rewardsmith.core.config import REGISTRY, BuildContext, ConfigError, explain
from rewardsmith.core.types import Group, Sample, Score, Status
from rewardsmith.state import StateStore, resolve_url


class RewardFile(BaseModel):
    """The top level of a YAML reward definition."""

    model_config = ConfigDict(extra="forbid")
    reward: Any
    description: str = ""
    workers: int | None = Field(default=None, ge=1)
    state: str | None = None


class Reward:
    """A built reward, reusable across batches. Close it (or use `with`) to stop workers."""

    def __init__(
        self, root: Component, description: str = "", context: BuildContext | None = None
    ) -> None:
        self.root = root
        self.description = description
        self.context = context or BuildContext()

    @classmethod
    def from_spec(
        cls,
        spec: Any,
        workers: int = 1,
        description: str = "",
        state: str | StateStore | None = None,
        base_dir: str | Path | None = None,
    ) -> Reward:
        """Build from a node (a mapping, or a registered component name).

        Relative file names in the spec (rubrics, caches) are taken from `base_dir`, by
        default the working directory; `load` passes the YAML file's directory.

        `state` is where adaptive components keep training state across batches: a URL
        (`memory://`, `sqlite:///path`, `redis://host:port/0`) or an open store; by
        default `$REWARDSMITH_STATE`, else SQLite in `.rewardsmith/` (opened only when a
        component needs it).
        """
        if isinstance(state, str):
            try:
                resolve_url(state)
            except ValueError as exc:
                raise ConfigError(f"state: {exc}") from None
        context = BuildContext(
            workers=workers, state=state, base_dir=Path(base_dir) if base_dir else None
        )
        return cls(context.build(spec, "reward"), description, context)

    @classmethod
    def load(
        cls,
        name_or_path: str | Path,
        workers: int | None = None,
        state: str | StateStore | None = None,
    ) -> Reward:
        """A registered component name (`math`, ...) or the path of a YAML reward file."""
        if isinstance(name_or_path, str) and name_or_path in REGISTRY:
            return cls.from_spec({"type": name_or_path}, workers=workers or 1, state=state)
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(
                f"reward: {str(name_or_path)!r} is neither a built-in reward "
                f"({', '.join(sorted(REGISTRY))}) nor a YAML file"
            )
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping with a 'reward' key")
        try:
            spec = RewardFile.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(explain(exc, f"{path}:", "reward file", RewardFile)) from None
        return cls.from_spec(
            spec.reward,
            workers or spec.workers or 1,
            spec.description,
            state or spec.state,
            base_dir=path.parent,
        )

    def score_groups(self, groups: list[Group]) -> list[list[Score]]:
        return self.root.run(groups)

    async def ascore_groups(self, groups: list[Group]) -> list[list[Score]]:
        return await self.root.arun(groups)

    def score(self, samples: Sequence[Sample | Mapping[str, Any]]) -> list[Score]:
        """One Score per sample, in input order."""
        parsed, groups, where = _prepare(samples)
        return _scatter(parsed, groups, where, self.score_groups(groups) if groups else [])

    async def ascore(self, samples: Sequence[Sample | Mapping[str, Any]]) -> list[Score]:
        """`score` for asyncio callers; CPU-heavy checks run in worker processes."""
        parsed, groups, where = _prepare(samples)
        return _scatter(parsed, groups, where, await self.ascore_groups(groups) if groups else [])

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


def _prepare(
    samples: Sequence[Sample | Mapping[str, Any]],
) -> tuple[list[Sample | Score], list[Group], dict[int, tuple[int, int]]]:
    parsed: list[Sample | Score] = []
    for item in samples:
        try:
            parsed.append(parse_sample(item))
        except ValueError as exc:
            parsed.append(Score.failed(Status.INVALID, 0.0, str(exc)))
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
    return parsed, groups, where


def _scatter(
    parsed: list[Sample | Score],
    groups: list[Group],
    where: dict[int, tuple[int, int]],
    scores: list[list[Score]],
) -> list[Score]:
    out: list[Score] = []
    for index, item in enumerate(parsed):
        if isinstance(item, Score):
            out.append(item)
        else:
            g, s = where[index]
            out.append(scores[g][s])
    return out
