"""`python`: a reward written as a plain Python function.

    reward: {type: python, function: mypkg.rewards:brevity}

`function` is `package.module:name`, imported from the directory of the YAML file (or
the working directory, for a spec built in code) as well as `sys.path`; in code it may
also be the function itself, when it is defined at the top level of a module. The
function takes the sample's fields by name (`completion`, `prompt`, `reference`, `meta`,
`group_id`, any other field of the input line): it is passed the ones it names, or all
of them if it has `**kwargs`. A field the sample lacks (or has as null) is not passed,
so a parameter without a default for it makes that sample invalid. It returns a number
(`bool` counts as 0/1) or a dict `{"reward": number, ...}` whose other keys become the
sample's `info` (they must be JSON data). Raising `rewardsmith.InvalidSample` marks the
sample invalid.

Each call runs in a worker process under `timeout` and `memory_mb`, so a function that
raises, hangs, returns NaN or the wrong type costs only its own sample (status error or
timeout, the fallback reward, the reason in `info`). Worker processes import the
function's module afresh; a function in the main script needs the script's
`if __name__ == "__main__":` guard (see `core.spawn_guard`).
"""

from __future__ import annotations

import importlib
import inspect
import json
import numbers
import sys
from collections.abc import Callable
from concurrent.futures import Future
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from rewardsmith.core.component import InvalidSample, Params, guarded
from rewardsmith.core.config import BuildContext, ConfigError, register
from rewardsmith.core.pool import DEFAULT_MEMORY_MB, WorkerPool
from rewardsmith.core.pooled import PooledComponent
from rewardsmith.core.types import Group, Sample, Score, Status

Plan = list[list[Score | dict[str, Any]]]  # per sample: its Score, or the arguments to call with


class PythonParams(Params):
    function: str = Field(description="the reward function, as package.module:name")
    timeout: float = Field(default=10.0, gt=0, description="seconds per call")
    memory_mb: int = Field(
        default=DEFAULT_MEMORY_MB, ge=256, description="memory limit of each worker, in MiB"
    )

    @field_validator("function", mode="before")
    @classmethod
    def _import_path(cls, value: Any) -> Any:
        if callable(value):
            return import_path(value)
        if isinstance(value, str) and not _well_formed(value):
            raise ValueError(f"expected package.module:name, got {value!r}")
        return value


def _well_formed(text: str) -> bool:
    module, _, name = text.partition(":")
    parts = [*module.split("."), *name.split(".")]
    return bool(module and name) and all(part.isidentifier() for part in parts)


def import_path(fn: Callable[..., Any]) -> str:
    """`module:name` of a function defined at the top level of a module."""
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or "<" in name:
        raise ValueError(
            f"{fn!r} cannot be imported by name; define it at the top level of a module "
            "(not a lambda, nested function or bound method)"
        )
    return f"{module}:{name}"


@cache
def load_function(path: str) -> Callable[..., Any]:
    """The function named `package.module:name` (imported once per process)."""
    module_name, _, name = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in name.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{path} is a {type(target).__name__}, not a function")
    return target


@register("python")
class PythonFunction(PooledComponent[Plan, tuple[int, int]]):
    """The reward a plain Python function gives each sample (see the module docstring)."""

    Params = PythonParams
    params: PythonParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        function = self.params.function
        search = str(ctx.base_dir or Path.cwd())
        if search not in sys.path:
            sys.path.append(search)  # (worker processes start with this sys.path)
        try:
            signature = inspect.signature(load_function(function))
        except Exception as exc:
            raise ConfigError(
                f"{self.path}.function: cannot load {function}: {type(exc).__name__}: {exc}"
            ) from None
        except SystemExit:
            raise ConfigError(
                f"{self.path}.function: importing {function} exited; guard its script's work "
                'with `if __name__ == "__main__":`'
            ) from None
        self.takes_all, self.names, self.required = _arguments(self.path, function, signature)
        self.pool = WorkerPool(ctx.workers, memory_mb=self.params.memory_mb)

    def plan(self, groups: list[Group]) -> Plan:
        return [
            [guarded(self.fallback, self._arguments, s) for s in group.samples] for group in groups
        ]

    def _arguments(self, sample: Sample) -> dict[str, Any]:
        fields = {
            key: value for key, value in sample.model_dump(mode="json").items() if value is not None
        }
        for name in self.required:
            if name not in fields:
                raise InvalidSample(f"{name}: missing; {self.params.function} needs it")
        return fields if self.takes_all else {n: fields[n] for n in self.names if n in fields}

    def submit(self, plan: Plan) -> dict[tuple[int, int], Future]:
        return {
            (g, s): self.pool.submit(
                call, self.params.function, item, self.fallback, timeout=self.params.timeout
            )
            for g, row in enumerate(plan)
            for s, item in enumerate(row)
            if isinstance(item, dict)
        }

    def resolve(
        self, plan: Plan, outcomes: dict[tuple[int, int], tuple[Status, Any]]
    ) -> list[list[Score]]:
        scores = []
        for g, row in enumerate(plan):
            resolved = []
            for s, item in enumerate(row):
                if isinstance(item, Score):
                    resolved.append(item)
                    continue
                status, result = outcomes[(g, s)]
                if status is Status.OK:
                    resolved.append(result)
                else:
                    resolved.append(Score.failed(status, self.fallback, str(result)))
            scores.append(resolved)
        return scores


def _arguments(
    path: str, function: str, signature: inspect.Signature
) -> tuple[bool, tuple[str, ...], tuple[str, ...]]:
    """(takes **kwargs, the names it takes, the names it needs) of the function."""
    kinds = inspect.Parameter
    params = signature.parameters.values()
    positional = [p.name for p in params if p.kind is kinds.POSITIONAL_ONLY]
    if positional:
        raise ConfigError(
            f"{path}.function: {function} takes {', '.join(positional)} by position only; "
            "it is called with the sample's fields by name"
        )
    named = [p for p in params if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)]
    return (
        any(p.kind is kinds.VAR_KEYWORD for p in params),
        tuple(p.name for p in named),
        tuple(p.name for p in named if p.default is kinds.empty),
    )


def call(function: str, arguments: dict[str, Any], fallback: float) -> Score:
    """In a worker: the function's verdict on one sample, as a Score."""
    try:
        result = load_function(function)(**arguments)
    except InvalidSample as exc:
        return Score.failed(Status.INVALID, fallback, str(exc))
    except (SystemExit, KeyboardInterrupt) as exc:  # would end the caller if sent back
        raise RuntimeError(f"{function} raised {type(exc).__name__}({exc})") from None
    return as_score(function, result)


def as_score(function: str, result: Any) -> Score:
    """A number, or `{"reward": number, **info}`, as a Score (TypeError otherwise)."""
    info: dict[str, Any] = {}
    if isinstance(result, dict):
        info = {k: v for k, v in result.items() if k != "reward"}
        if "reward" not in result:
            raise TypeError(f"{function} returned a dict without 'reward': {_shown(result)}")
        result = result["reward"]
        try:
            json.dumps(info)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{function} returned info that is not JSON data: {exc}") from None
    if not isinstance(result, numbers.Real):
        raise TypeError(
            f"{function} returned {_shown(result)} ({type(result).__name__}); "
            "expected a number or a dict with 'reward'"
        )
    return Score(float(result), info=info)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
