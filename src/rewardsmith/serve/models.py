"""The request and response bodies of the server, as pydantic models.

They are the OpenAPI document's schemas and what requests are checked against (strictly:
a number is not a string, a string is not a number), so the document and the server
cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from rewardsmith.core.types import DenseReward, Sample, Score, Status


class GetRewardRequest(BaseModel):
    """The OpenRLHF remote reward-model request: one query (and prompt, label) per sample."""

    query: list[str] = Field(
        description="each sample's prompt followed by its response, decoded with special "
        "tokens kept (the response is what follows the prompt)"
    )
    prompts: list[str] = Field(description="each sample's prompt, as a string")
    labels: list[Any] | None = Field(
        default=None,
        description="each sample's reference, any JSON value (OpenRLHF sends the dataset "
        "column's raw value: a string, number, list or object); a label the reward cannot "
        "use gives that sample status invalid",
    )
    step: int | None = Field(
        default=None, ge=0, description="the training step, written into each sample's meta.step"
    )

    @model_validator(mode="after")
    def _one_per_query(self) -> Self:
        for name in ("prompts", "labels"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.query):
                raise PydanticCustomError(
                    "length_mismatch",
                    f"{name}: has {len(values)} items but query has {len(self.query)}; "
                    f"expected one per query",
                )
        return self


class GetRewardResponse(BaseModel):
    """The OpenRLHF remote reward-model answer, one value per query."""

    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]] = Field(
        description="each named reward component, one value per query"
    )


class SampleIn(Sample):
    """A rollout to score: `completion` is required; fields not listed are allowed."""

    group_id: str | int | None = Field(
        default=None,
        description="samples with the same group_id form a group; without one, "
        "samples with the same prompt do",
    )


class ScoreRequest(BaseModel):
    """A native batch: samples in any order, grouped by group_id or prompt."""

    samples: list[SampleIn]
    step: int | None = Field(
        default=None, ge=0, description="the training step of samples without meta.step"
    )


class StepBody(BaseModel):
    """The training step for requests that carry none (`POST /step`)."""

    step: int = Field(ge=0)


class ScoreOut(BaseModel):
    """One sample's reward and why: its status, components, dense rewards and info."""

    reward: float
    status: Status
    components: dict[str, float]
    dense: list[DenseReward] | None = None
    info: dict[str, Any]

    @classmethod
    def of(cls, score: Score) -> ScoreOut:
        return cls(
            reward=score.value,
            status=score.status,
            components=score.components,
            dense=score.dense,
            info=score.info,
        )


class ScoreResponse(BaseModel):
    """One entry per request sample, in request order."""

    scores: list[ScoreOut]


class Health(BaseModel):
    """The answer of the health and readiness probes."""

    status: str


class ErrorBody(BaseModel):
    """Every error answer: one message naming the field and what was expected."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"error": "query[2]: expected a string, got a number"}]}
    )

    error: str
