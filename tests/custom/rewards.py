"""Plain reward functions the `python` component tests import by name."""

from __future__ import annotations

import time
from typing import Any

from rewardsmith import InvalidSample


def brevity(completion: str) -> float:
    """1 for an empty completion, falling towards 0 as it grows."""
    return 1.0 / (1.0 + len(completion) / 100)


def exact(completion: str, reference: str, meta: dict | None = None) -> dict[str, Any]:
    """1 when the completion is the reference, with what was compared in the info."""
    step = (meta or {}).get("step", 0)
    return {"reward": float(completion.strip() == reference), "seen": completion, "step": step}


def fields(**sample: Any) -> dict[str, Any]:
    """The reward is the number of fields passed; the info names them."""
    return {"reward": len(sample), "fields": sorted(sample)}


def labelled(completion: str, label: int) -> int:
    """An extra field of the input line, by name."""
    return label


def hostile(completion: str) -> Any:
    """What a buggy or hostile reward function does, chosen by the completion."""
    if completion == "raise":
        raise ValueError("boom")
    if completion == "nan":
        return float("nan")
    if completion == "string":
        return "1.0"
    if completion == "no-reward":
        return {"value": 1.0}
    if completion == "object-info":
        return {"reward": 1.0, "thing": object()}
    if completion == "sleep":
        time.sleep(60)
    if completion == "invalid":
        raise InvalidSample("completion: not what this reward reads")
    if completion == "exit":
        raise SystemExit(3)
    return len(completion) / 10


def positional(completion, /):
    return 1.0
