"""The component registry and the builder that turns a config tree into components.

A node of the tree is a mapping with a `type` (a registered component name), an
optional `name` (how it appears in `Score.components`; defaults to the type), an
optional `fallback` (the reward used when the check fails or times out), and the
component's own parameters. Everything is validated before any work starts, and a bad
node gets one message naming its path, the bad key, and what is allowed.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from rewardsmith.core.component import Component, Params
from rewardsmith.state import StateStore, open_store

REGISTRY: dict[str, type[Component]] = {}
COMMON_KEYS = ("type", "name", "fallback")

C = TypeVar("C", bound=type[Component])
T = TypeVar("T")


class ConfigError(ValueError):
    """A reward definition that cannot be built; the message names the offending key."""


def register(kind: str) -> Callable[[C], C]:
    """Class decorator: make a component available to configs under `kind`."""

    def add(cls: C) -> C:
        if kind in REGISTRY and REGISTRY[kind] is not cls:
            raise ValueError(f"component type {kind!r} is registered twice")
        cls.kind = kind
        REGISTRY[kind] = cls
        return cls

    return add


@dataclass
class BuildContext:
    """What components may need at build time: the worker budget, the training-state
    store (a URL or an open store; opened on first use), objects shared by the whole tree
    (e.g. one judge backend per server and model), the directory that relative file names
    in the definition are taken from, and the builder itself."""

    workers: int = 1
    state: str | StateStore | None = None
    base_dir: Path | None = None
    names: set[str] = field(default_factory=set)
    opened: StateStore | None = None
    resources: dict[str, Any] = field(default_factory=dict)

    def path(self, value: str | Path) -> Path:
        """A file named in the definition: a relative name is taken from the definition
        file's directory (the working directory for a spec built in code)."""
        path = Path(value).expanduser()
        if path.is_absolute() or self.base_dir is None:
            return path
        return self.base_dir / path

    def shared(self, key: str, factory: Callable[[], T]) -> T:
        """The one object under `key` for this tree, made by `factory` on first use and
        closed (if it has `close`) with the tree."""
        if key not in self.resources:
            self.resources[key] = factory()
        return self.resources[key]

    def usage(self) -> dict[str, float]:
        """The shared objects' counters (judge calls, tokens, ...), added up by name, and
        the state records read and written when a store was used."""
        totals: dict[str, float] = {}
        store = self.state if isinstance(self.state, StateStore) else self.opened
        if store is not None:
            totals["state_records_read"] = store.records_read
            totals["state_records_written"] = store.records_written
        for resource in self.resources.values():
            report = getattr(resource, "usage", None)
            for name, amount in (report() if callable(report) else {}).items():
                totals[name] = totals.get(name, 0) + amount
        return totals

    def store(self) -> StateStore:
        """The training-state store; without one configured, the embedded SQLite default."""
        if isinstance(self.state, StateStore):
            return self.state
        if self.opened is None:
            self.opened = open_store(self.state)
        return self.opened

    def close(self) -> None:
        """Close the shared objects, and the store if it was opened here (a store passed
        in is the caller's)."""
        for resource in self.resources.values():
            closer = getattr(resource, "close", None)
            if callable(closer):
                closer()
        if self.opened is not None:
            self.opened.close()
            self.opened = None

    def build(self, spec: Any, path: str) -> Component:
        """Build one node (and, through the component's constructor, its children)."""
        if isinstance(spec, str):
            spec = {"type": spec}
        if not isinstance(spec, dict):
            raise ConfigError(
                f"{path}: expected a mapping with a 'type' key, got {type(spec).__name__}"
            )
        kind = spec.get("type")
        allowed = ", ".join(sorted(REGISTRY))
        if kind is None:
            raise ConfigError(f"{path}.type: missing; allowed: {allowed}")
        if kind not in REGISTRY:
            hint = did_you_mean(kind, REGISTRY)
            raise ConfigError(f"{path}.type: unknown component {kind!r}; allowed: {allowed}{hint}")
        cls = REGISTRY[kind]
        params_spec = {k: v for k, v in spec.items() if k not in COMMON_KEYS}
        try:
            params = cls.Params.model_validate(params_spec)
        except ValidationError as exc:
            raise ConfigError(explain(exc, path, f"component {kind!r}", cls.Params)) from None
        name = self._unique_name(spec.get("name"), kind, path)
        fallback = spec.get("fallback", 0.0)
        if isinstance(fallback, bool) or not isinstance(fallback, int | float):
            raise ConfigError(f"{path}.fallback: expected a number, got {fallback!r}")
        return cls(params, self, name=name, fallback=float(fallback), path=path)

    def _unique_name(self, explicit: Any, kind: str, path: str) -> str:
        if explicit is not None:
            if not isinstance(explicit, str) or not explicit:
                raise ConfigError(f"{path}.name: expected a non-empty string, got {explicit!r}")
            if explicit in self.names:
                raise ConfigError(f"{path}.name: duplicate component name {explicit!r}")
            self.names.add(explicit)
            return explicit
        name, n = kind, 1
        while name in self.names:
            n += 1
            name = f"{kind}_{n}"
        self.names.add(name)
        return name


def explain(exc: ValidationError, path: str, what: str, model: type[BaseModel]) -> str:
    """One validation problem as one line: path.key: what is wrong; what is allowed.

    Unknown keys are reported first: a misspelt key also makes the real one "missing".
    A `path` ending in ":" (a file name) is followed by the bare key.
    """
    errors = exc.errors()
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    where = "".join(f".{part}" if isinstance(part, str) else f"[{part}]" for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if not where:
        return f"{path} {message}" if path.endswith(":") else f"{path}: {message}"
    location = f"{path} {where.lstrip('.')}" if path.endswith(":") else f"{path}{where}"
    if error["type"] == "extra_forbidden":
        keys = set(model.model_fields)
        if issubclass(model, Params):
            keys |= set(COMMON_KEYS)
        hint = did_you_mean(str(error["loc"][-1]), keys)
        return f"{location}: unknown key for {what}; allowed: {', '.join(sorted(keys))}{hint}"
    if error["type"] == "missing":
        return f"{location}: missing; required by {what}"
    return f"{location}: {message} (got {error.get('input')!r})"


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the closest of `choices` to `word`, else ''."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
