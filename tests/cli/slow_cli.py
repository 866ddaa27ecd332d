"""`rewardsmith` with one more component, `sleepy` (1.0 after `seconds` per sample), so
that a run lasts long enough to watch and interrupt: `python slow_cli.py score ...`."""

from __future__ import annotations

import time

from rewardsmith.cli import app
from rewardsmith.core.component import Params, SampleComponent
from rewardsmith.core.config import register
from rewardsmith.core.types import Sample, Score


class SleepyParams(Params):
    seconds: float = 0.05


@register("sleepy")
class Sleepy(SampleComponent):
    """1.0 for every sample, after sleeping `seconds`."""

    Params = SleepyParams
    params: SleepyParams

    def score_sample(self, sample: Sample) -> Score:
        time.sleep(self.params.seconds)
        return Score(1.0)


if __name__ == "__main__":
    app()
