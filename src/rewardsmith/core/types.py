"""The data model every component shares: Sample, Group and Score.

A trainer's rollouts arrive as Samples; the Samples of one prompt form a Group (GRPO's
G rollouts), which is the unit of work; every component returns one Score per Sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Status(StrEnum):
    """How a sample's scoring ended. Ordered from best to worst (see `worst`)."""

    OK = "ok"
    INVALID = "invalid"  # the sample's input cannot be scored by this component
    UNPARSEABLE = "unparseable"  # a judge's answer could not be read; raw text in info
    TIMEOUT = "timeout"  # the check ran out of time; the fallback reward was used
    ERROR = "error"  # the check crashed; the fallback reward was used

    @staticmethod
    def worst(statuses: list[Status]) -> Status:
        order = [Status.OK, Status.INVALID, Status.UNPARSEABLE, Status.TIMEOUT, Status.ERROR]
        return max(statuses, key=order.index, default=Status.OK)


class Message(BaseModel):
    """One chat message of a prompt given as a conversation."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: str


class Sample(BaseModel):
    """One rollout: the prompt, the policy's completion and what a verifier needs.

    Fields the model does not know are kept in `extra` and written back unchanged.
    """

    model_config = ConfigDict(extra="allow", frozen=False)

    prompt: str | list[Message] = ""
    completion: str
    reference: Any = None
    group_id: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    completion_ids: list[int] | None = None
    logprobs: list[float] | None = None
    ref_logprobs: list[float] | None = None
    entropies: list[float] | None = None
    token_offsets: list[tuple[int, int]] | None = None  # each completion token's char span
    steps: list[str] | None = None  # explicit reasoning steps, in order
    step_scores: list[float] | None = None  # one external PRM score (or value) per step

    @field_validator("group_id", mode="before")
    @classmethod
    def _group_id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("completion")
    @classmethod
    def _completion_is_unicode(cls, text: str) -> str:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates, e.g. from a JSON "\udcff"
            raise ValueError(
                f"completion: not valid Unicode (a lone surrogate at character {exc.start}); "
                "expected text that UTF-8 can encode"
            ) from None
        return text

    @field_validator("meta")
    @classmethod
    def _step_is_an_integer(cls, meta: dict[str, Any]) -> dict[str, Any]:
        step = meta.get("step", 0)
        integral = isinstance(step, int) or (isinstance(step, float) and step.is_integer())
        if isinstance(step, bool) or not (integral or (isinstance(step, str) and step.isdigit())):
            shown = f"{step!r:.40}"
            raise ValueError(f"meta.step: expected the training step as an integer, got {shown}")
        return meta

    @property
    def prompt_text(self) -> str:
        """The prompt as one string (chat messages joined by newlines)."""
        if isinstance(self.prompt, str):
            return self.prompt
        return "\n".join(message.content for message in self.prompt)

    @property
    def step(self) -> int:
        """The training step carried in `meta.step` (0 when absent)."""
        return int(self.meta.get("step", 0))


@dataclass
class Group:
    """The samples of one prompt, scored together."""

    group_id: str
    samples: list[Sample]

    def __len__(self) -> int:
        return len(self.samples)


@dataclass
class DenseReward:
    """A reward attached to a character span (and token span, when known) of a completion."""

    start: int
    end: int
    reward: float
    token_start: int | None = None
    token_end: int | None = None


@dataclass
class Score:
    """A component's verdict on one sample.

    `components` maps the name of every named part of the pipeline to its value for this
    sample; `info` says why (extracted answer, which path decided, error text).
    `advantage` is filled in when group advantages are asked for.
    """

    value: float
    status: Status = Status.OK
    components: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    dense: list[DenseReward] | None = None
    advantage: float | None = None
    # seconds this sample's own checks took, where its components time them one sample at
    # a time (not a batched check's share); not part of the verdict, so not compared
    seconds: float | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def absorb(self, part: Score) -> None:
        """Keep a part this score was built from visible: its components and info are
        added here, its status counts (the worse of the two is kept), and its checks' time
        is added to this one's."""
        self.components.update(part.components)
        self.info.update(part.info)
        self.status = Status.worst([self.status, part.status])
        if part.seconds is not None:
            self.seconds = (self.seconds or 0.0) + part.seconds

    @classmethod
    def failed(cls, status: Status, fallback: float, reason: str, code: str = "") -> Score:
        """A score for a sample that could not be checked: the fallback, the reason, and
        its machine-readable `code` (a snake_case word; by default the status)."""
        return cls(
            value=fallback, status=status, info={"error": reason, "code": code or str(status)}
        )


def regroup(groups: list[Group], flat: list[Score]) -> list[list[Score]]:
    """Per-sample scores, in the order of the groups' samples, back in the groups' shape."""
    scores = iter(flat)
    return [[next(scores) for _ in group.samples] for group in groups]
