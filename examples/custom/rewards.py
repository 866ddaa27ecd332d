"""A plain-function reward for the `python` component (see the README, Plain-function
rewards): named sample fields in, a number or `{"reward": ..., **info}` out."""

from __future__ import annotations

from typing import Any

BUDGET = 2000  # characters a completion may use before it starts losing the bonus


def concise(completion: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """1 within the character budget, falling linearly to 0 at twice the budget."""
    budget = (meta or {}).get("budget", BUDGET)
    over = max(0, len(completion) - budget)
    return {"reward": max(0.0, 1.0 - over / budget), "chars": len(completion)}
