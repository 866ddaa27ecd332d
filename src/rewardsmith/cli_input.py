"""Reading rollouts for `rewardsmith score`: JSONL lines to samples, with the field
names the user's data has, and its problems counted by kind rather than repeated.

The completion is `--completion-field` (default `completion`), a string or a chat (a
list of {role, content} messages, whose last assistant message is the completion, as
in the TRL adapter). The reference is `--reference-field`; without it `reference`, else
the first of `answer`, `solution`, `ground_truth` the line has (said once on stderr).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from rewardsmith.adapters.trl import REFERENCE_COLUMNS, completion_text
from rewardsmith.core.pipeline import parse_sample
from rewardsmith.core.types import Sample
from rewardsmith.report.reasons import reason_kind

REFERENCE = "reference"
REFERENCE_ALIASES = tuple(name for name in REFERENCE_COLUMNS if name != REFERENCE)
SHOWN_FIELDS = 12


@dataclass(frozen=True)
class Fields:
    """Where a line keeps the completion and the reference (None: `reference` or an alias)."""

    completion: str = "completion"
    reference: str | None = None


@dataclass
class Line:
    """One non-blank input line: what is written back (`record`), and its sample, or why
    it has none (`problem`)."""

    number: int
    record: dict[str, Any]
    sample: Sample | None = None
    problem: str = ""


@dataclass
class Kind:
    """One kind of problem: how often it happened and its first occurrence."""

    noun: str
    message: str
    line: int
    count: int = 0
    fields: set[str] = field(default_factory=set)


@dataclass
class Problems:
    """Problems counted by kind, for one stderr line each."""

    kinds: dict[str, Kind] = field(default_factory=dict)

    def add(self, key: str, noun: str, message: str, line: int, fields: Iterable[str] = ()) -> None:
        """Count one occurrence of the kind `key`; the first one's message is kept."""
        kind = self.kinds.setdefault(key, Kind(noun, message, line))
        kind.count += 1
        kind.fields.update(fields)

    def lines(self) -> Iterator[str]:
        for key, kind in self.kinds.items():
            yield describe(key, kind)


def describe(key: str, kind: Kind) -> str:
    """One stderr line for a kind of problem."""
    many = "s" if kind.count != 1 else ""
    seen = sorted(kind.fields)
    fields = ", ".join(seen[:SHOWN_FIELDS]) + (", …" if len(seen) > SHOWN_FIELDS else "")
    if key == "missing_reference":
        return (
            f"{kind.count} sample{many} {'have' if many else 'has'} no `reference`; "
            f"fields seen: {fields or 'none'} "
            f"(e.g. line {kind.line}; choose one with --reference-field)"
        )
    return f"{kind.count} {kind.noun}{many}: {kind.message} (e.g. line {kind.line})"


def numbered_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of every non-blank line; JSON strings hold no raw newline."""
    for number, raw in enumerate(stream, start=1):
        if raw.strip():
            yield number, raw


@dataclass
class Reader:
    """Turns lines into Lines, noting the problems and the aliases used."""

    fields: Fields = field(default_factory=Fields)
    problems: Problems = field(default_factory=Problems)
    aliases: dict[str, int] = field(default_factory=dict)

    def read(self, number: int, raw: bytes) -> Line:
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            problem = f"not valid UTF-8 (byte {exc.start}: {exc.reason}); expected UTF-8 JSON"
            return self._invalid(number, {}, problem)
        except json.JSONDecodeError as exc:
            return self._invalid(number, {}, f"not valid JSON: {exc}")
        if not isinstance(data, dict):
            return self._invalid(number, {}, f"expected a JSON object, got {type(data).__name__}")
        try:
            sample = parse_sample(self._mapped(data))
        except ValueError as exc:
            return self._invalid(number, data, str(exc))
        return Line(number, data, sample)

    def notices(self) -> Iterator[str]:
        for alias, count in self.aliases.items():
            yield (
                f"using `{alias}` as the reference ({count} line{'s' * (count != 1)} "
                "without `reference`); pass --reference-field to choose another field"
            )

    def _mapped(self, data: dict[str, Any]) -> dict[str, Any]:
        """`data` with the completion and the reference where Sample expects them."""
        name = self.fields.completion
        if name not in data:
            raise ValueError(f"{name}: missing (expected a string or a list of messages)")
        try:
            mapped = {**data, "completion": completion_text(data[name])}
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        if self.fields.reference is not None:
            mapped[REFERENCE] = data.get(self.fields.reference)
        elif REFERENCE not in data:
            alias = next((a for a in REFERENCE_ALIASES if a in data), None)
            if alias is not None:
                mapped[REFERENCE] = data[alias]
                self.aliases[alias] = self.aliases.get(alias, 0) + 1
        return mapped

    def _invalid(self, number: int, data: dict[str, Any], problem: str) -> Line:
        self.problems.add(reason_kind(problem), "line", f"not scored: {problem}", number)
        error = {"reward": None, "status": "invalid", "info": {"error": problem}}
        return Line(number, {**data, "line": number, **error}, problem=problem)
