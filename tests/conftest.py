"""Shared test helpers: a tiny component whose value is read from the sample's meta."""

from __future__ import annotations

import pytest

import rewardsmith.api  # noqa: F401  (registers the built-in components)
from rewardsmith.core.component import InvalidSample, Params, SampleComponent
from rewardsmith.core.config import REGISTRY, register
from rewardsmith.core.types import Sample, Score


class MetaValueParams(Params):
    key: str = "value"


if "meta_value" not in REGISTRY:

    @register("meta_value")
    class MetaValue(SampleComponent):
        """Test component: the reward is `meta[key]`; `meta.crash` makes it raise."""

        Params = MetaValueParams
        params: MetaValueParams

        def score_sample(self, sample: Sample) -> Score:
            if sample.meta.get("crash"):
                raise RuntimeError("verifier crashed")
            if self.params.key not in sample.meta:
                raise InvalidSample(f"meta.{self.params.key}: missing; expected a number")
            return Score(float(sample.meta[self.params.key]), info={"key": self.params.key})


def samples_with(*metas: dict) -> list[dict]:
    return [{"prompt": "p", "completion": "c", "meta": meta} for meta in metas]


@pytest.fixture
def meta_samples():
    return samples_with
