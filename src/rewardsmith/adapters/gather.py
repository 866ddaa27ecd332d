"""Group gathering: whole groups for trainers that call the reward one sample at a time.

verl's reward loop (0.7.1+) awaits `compute_score_async` once per sample and OpenRLHF
(0.9.1+) sends one query per `/get_reward` request, so a reward that compares a prompt's
rollouts (length shaping, GRPO-lambda, pairwise rubrics, batch statistics) would only see
groups of one. A `Gatherer` holds each per-sample call until `size` calls with the same
group key have arrived (or `wait_seconds` have passed since the first), scores those
samples once as one group, and answers every caller with its own Score.

- Key (`key`): "group" (the sample's `group_id`, else its prompt: the rule of
  `Reward.score`), "prompt", or "meta.<field>" (e.g. "meta.index" for verl's
  `extra_info["index"]`, "meta.uid").
- Deterministic: a group's samples are sorted by their JSON form before scoring, so the
  same rollouts get the same rewards whatever order they arrived in.
- Every gathered Score carries `info["group"] = {"size": n, "expected": size,
  "complete": n >= size}`; a group scored at the wait limit shows `complete: False`.
- The samples wait in a `Mailbox`: `memory://` (this process; threads and event loops
  may share it, as nothing in it is bound to a loop) or `sqlite:///path` (every process
  on the machine that opens the file; see `adapters/mailbox_sqlite.py`). Exactly one
  caller closes a batch (the one that completes it, or the first to find it past its
  wait limit) and scores it; the others poll for their result.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rewardsmith.core.pipeline import group_key, parse_sample
from rewardsmith.core.types import Sample, Score, Status

if TYPE_CHECKING:
    from rewardsmith.core.pipeline import Reward

FIRST_POLL_SECONDS = 0.002  # a waiting caller checks for its result, doubling up to:
LAST_POLL_SECONDS = 0.05
KEY_FORMS = "'group', 'prompt' or 'meta.<field>'"
_META_KEY = re.compile(r"meta\.(.+)")

Member = tuple[str, Sample]  # (caller's token, its sample)


class GatherSettings(BaseModel):
    """How per-sample calls are gathered into groups (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(ge=1, description="samples per group (GRPO's G, rollouts per prompt)")
    wait_seconds: float = Field(
        default=30.0, gt=0, description="after this long a group is scored with what arrived"
    )
    key: str = Field(default="group", description=f"what groups samples: {KEY_FORMS}")
    mailbox: str = Field(default="memory://", description="memory:// or sqlite:///path")

    @field_validator("key")
    @classmethod
    def _known_key(cls, key: str) -> str:
        if key not in ("group", "prompt") and not _META_KEY.fullmatch(key):
            raise ValueError(f"key: expected {KEY_FORMS}, got {key!r}")
        return key

    @field_validator("mailbox")
    @classmethod
    def _known_mailbox(cls, url: str) -> str:
        if url != "memory://" and not (url.startswith("sqlite:///") and url != "sqlite:///"):
            raise ValueError(f"mailbox: expected memory:// or sqlite:///path, got {url!r}")
        return url

    def key_of(self, sample: Sample) -> str:
        """The group key of `sample`; ValueError naming the field when it has none."""
        if self.key == "group":
            return group_key(sample)
        if self.key == "prompt":
            return "prompt:" + sample.prompt_text
        name = self.key.removeprefix("meta.")
        value = sample.meta.get(name)
        if value is None:
            raise ValueError(f"{self.key}: missing; expected the group key (gather key)")
        return f"{name}:{value}"


class Mailbox(ABC):
    """Where gathered samples wait for their group, and scores wait for their caller."""

    @abstractmethod
    def post(self, key: str, member: Member, size: int) -> tuple[int, float, list[Member] | None]:
        """Add `member` to the open batch of `key` (opened now if there is none): the
        batch's id, when it opened (`time.time()`), and its members if this post closed
        it by reaching `size` (the caller then scores it), else None."""

    @abstractmethod
    def claim(self, batch: int) -> list[Member] | None:
        """Close `batch` and return its members, or None if it is already closed."""

    @abstractmethod
    def publish(self, scores: Mapping[str, Score]) -> None:
        """Leave each caller's Score, by token."""

    @abstractmethod
    def collect(self, token: str) -> Score | None:
        """The Score left for `token` (taken out), or None."""


@dataclass
class _Batch:
    key: str
    opened: float
    members: list[Member] = field(default_factory=list)


class MemoryMailbox(Mailbox):
    """A mailbox in this process, safe to share between threads and event loops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}
        self._batches: dict[int, _Batch] = {}
        self._scores: dict[str, Score] = {}
        self._next = 0

    def post(self, key: str, member: Member, size: int) -> tuple[int, float, list[Member] | None]:
        with self._lock:
            if key not in self._open:
                self._next += 1
                self._open[key] = self._next
                self._batches[self._next] = _Batch(key, time.time())
            batch = self._open[key]
            state = self._batches[batch]
            state.members.append(member)
            closed = self._close(batch) if len(state.members) >= size else None
            return batch, state.opened, closed

    def claim(self, batch: int) -> list[Member] | None:
        with self._lock:
            return self._close(batch)

    def _close(self, batch: int) -> list[Member] | None:
        state = self._batches.pop(batch, None)
        if state is None:
            return None
        del self._open[state.key]
        return state.members

    def publish(self, scores: Mapping[str, Score]) -> None:
        with self._lock:
            self._scores.update(scores)

    def collect(self, token: str) -> Score | None:
        with self._lock:
            return self._scores.pop(token, None)


def open_mailbox(url: str) -> Mailbox:
    """The mailbox at `url` (`memory://` or `sqlite:///path`)."""
    if url == "memory://":
        return MemoryMailbox()
    from rewardsmith.adapters.mailbox_sqlite import SqliteMailbox

    return SqliteMailbox(url.removeprefix("sqlite:///"))


class Gatherer:
    """Per-sample calls gathered into groups and scored once per group. It pickles as its
    settings (a process that unpickles it opens its own mailbox)."""

    def __init__(self, settings: GatherSettings) -> None:
        self.settings = settings
        self.mailbox = open_mailbox(settings.mailbox)

    async def ascore(
        self, reward: Reward, samples: Sequence[Sample | Mapping[str, Any]]
    ) -> list[Score]:
        """One Score per sample, each scored within its gathered group."""
        return list(await asyncio.gather(*(self._one(reward, sample) for sample in samples)))

    async def _one(self, reward: Reward, data: Sample | Mapping[str, Any]) -> Score:
        try:
            sample = parse_sample(data)
            key = self.settings.key_of(sample)
        except ValueError as exc:
            return Score.failed(Status.INVALID, reward.root.fallback, str(exc))
        token = uuid.uuid4().hex
        batch, opened, members = self.mailbox.post(key, (token, sample), self.settings.size)
        deadline = opened + self.settings.wait_seconds
        delay = FIRST_POLL_SECONDS
        while members is None:
            score = self.mailbox.collect(token)
            if score is not None:
                return score
            left = deadline - time.time()
            if left <= 0:
                members = self.mailbox.claim(batch)
                if members is not None:
                    break
            await asyncio.sleep(min(delay, left) if left > 0 else delay)
            delay = min(2 * delay, LAST_POLL_SECONDS)
        return await self._score_group(reward, key, members, token)

    async def _score_group(
        self, reward: Reward, key: str, members: list[Member], own: str
    ) -> Score:
        """Score a closed batch as one group, leave the other callers' Scores in the
        mailbox and return the one of `own`. If scoring fails or is cancelled, the others
        get status `error` at once rather than waiting for a result that will not come."""
        ordered = sorted(members, key=lambda member: member[1].model_dump_json())
        try:
            scores = await reward.ascore(
                [sample.model_copy(update={"group_id": key}) for _, sample in ordered]
            )
        except BaseException as exc:
            reason = f"group {key!r}: scoring failed ({type(exc).__name__}: {exc})"
            failed = Score.failed(Status.ERROR, reward.root.fallback, reason)
            self.mailbox.publish({token: failed for token, _ in members if token != own})
            raise
        flag = {
            "size": len(members),
            "expected": self.settings.size,
            "complete": len(members) >= self.settings.size,
        }
        by_token = {}
        for (token, _), score in zip(ordered, scores, strict=True):
            score.info["group"] = dict(flag)
            by_token[token] = score
        mine = by_token.pop(own)
        self.mailbox.publish(by_token)
        return mine

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["settings"])
