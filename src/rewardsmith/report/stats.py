"""Running statistics of a stream of values, without keeping the values."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Stats:
    """Count, mean, standard deviation (population), min and max (Welford's method)."""

    n: int = 0
    mean: float = 0.0
    _m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    def add(self, value: float) -> None:
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self._m2 += delta * (value - self.mean)
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    @property
    def std(self) -> float:
        return math.sqrt(self._m2 / self.n) if self.n else 0.0

    def as_dict(self) -> dict[str, float | int | None]:
        if not self.n:
            return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
        return {"n": self.n, "mean": self.mean, "std": self.std, "min": self.min, "max": self.max}
