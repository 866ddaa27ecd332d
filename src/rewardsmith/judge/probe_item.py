"""The unit of the robustness probes (probes.py): one question to attack, and the type
of an attack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProbeItem:
    """One question to attack.

    `reference` is what the verifier is given (any form it accepts); `answer` is the
    correct answer written out, `wrong` a few answers that are not equivalent to it.
    """

    prompt: str
    reference: Any
    answer: str
    wrong: tuple[str, ...]
    response: str | None = None

    def correct_response(self) -> str:
        return self.response if self.response is not None else f"The answer is {self.answer}."


Attack = Callable[[ProbeItem], list[str]]
