"""TRL: a rewardsmith reward as `GRPOTrainer(reward_funcs=[...])` reward functions.

Convention followed (TRL 1.x: `GRPOTrainer._calculate_rewards` in
github.com/huggingface/trl `trl/trainer/grpo_trainer.py`, and the docs page
`docs/source/grpo_trainer.md`, "Using a custom reward function"; 0.1x-0.2x pass the same
arguments but no loggers, and older ones have no async path): a reward function is
called once per batch with keyword arguments only: `prompts`, `completions`,
`completion_ids`, `trainer_state` (the transformers `TrainerState`) and every dataset
column but `prompt`, each a list with one entry per completion. Prompts and completions
are strings, or for conversational datasets lists of `{"role", "content"}` messages. It
returns one float per completion, or None where it has no reward (TRL leaves None out of
that function's mean). A coroutine function (as TRL detects it, see `AsyncTRLReward`)
is awaited, together with the other async ones, on TRL's reward event loop. Each function
is logged as `rewards/<name>/mean` and `/std`, its name being `__name__` (< 1.9) or
`trl.trainer.utils.get_callable_name` (>= 1.9: `__name__` of the function a
`functools.partial` wraps), and `GRPOConfig(reward_weights=...)` weighs
them; TRL 1.x also passes `log_metric(name, value)` (a scalar averaged per logging step)
and `log_extra(column, values)` (a column of the completions table). A batch holds
`num_generations` consecutive completions of each prompt, possibly split across
processes; the completions of a prompt that one process sees form a group here.
AsyncGRPOTrainer pickles reward functions into its rollout process.

Mapping: the completion is the text (for chat, the last assistant message's content);
the reference comes from `reference_column`, by default the first of `solution`,
`answer`, `reference`, `ground_truth` present; the other columns go into `meta`, and
`trainer_state.global_step` into `meta.step` (so `schedule` components see the step).
A completion that cannot be scored (status invalid, unparseable, timeout, error) gets
None, never a made-up 0. Each batch is scored in one `Reward.score` call. Each component
reaches TRL's logs once: as a zero-weight function of its own (`reward_funcs`), else
through `log_metric` / `log_extra` where TRL passes them; and in `last_components`.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, NamedTuple

from rewardsmith.adapters import (
    STATUS_OK,
    Item,
    LazyReward,
    RewardSource,
    Unscorable,
    ascore_items,
    component_fallbacks,
    extra_values,
    health_metrics,
    score_items,
)
from rewardsmith.core.types import Score
from rewardsmith.state import StateStore

REFERENCE_COLUMNS = ("solution", "answer", "reference", "ground_truth")

Logger = Callable[[str, Any], None]  # TRL 1.x: log_metric(name, value), log_extra(column, values)


class _BatchScorer:
    """Scores each distinct batch once for all the functions of one reward (the total and
    its components), from threads or event loops; pickles without its reward's workers."""

    def __init__(self, reward: LazyReward, reference_column: str | None) -> None:
        self.reward = reward
        self.reference_column = reference_column
        self._lock = threading.Lock()
        self._batch: list[Item] | None = None
        self._future: Future[list[Score]] | None = None

    def score(self, items: list[Item]) -> list[Score]:
        future, mine = self._claim(items)
        if mine:
            try:
                future.set_result(score_items(self.reward.get(), items))
            except BaseException as exc:
                self._fail(future, exc)
        return future.result()

    async def ascore(self, items: list[Item]) -> list[Score]:
        future, mine = self._claim(items)
        if mine:
            try:
                future.set_result(await ascore_items(self.reward.get(), items))
            except BaseException as exc:
                self._fail(future, exc)
        return await asyncio.wrap_future(future)

    def last(self) -> list[Score]:
        """The scores of the last batch scored (empty before the first)."""
        future = self._future
        return future.result() if future is not None and future.done() else []

    def _claim(self, items: list[Item]) -> tuple[Future[list[Score]], bool]:
        with self._lock:
            if self._future is not None and _same(self._batch, items):
                return self._future, False
            self._batch, self._future = items, Future()
            return self._future, True

    def _fail(self, future: Future[list[Score]], exc: BaseException) -> None:
        with self._lock:  # a failed batch is not remembered: a retry scores it again
            if self._future is future:
                self._batch = self._future = None
        future.set_exception(exc)

    def __getstate__(self) -> dict[str, Any]:
        return {"reward": self.reward, "reference_column": self.reference_column}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["reward"], state["reference_column"])


def _same(batch: list[Item] | None, items: list[Item]) -> bool:
    try:
        return bool(batch == items)
    except Exception:  # columns of arrays or tensors do not compare to a single bool
        return False


class TRLReward:
    """A TRL reward function: per completion, the reward's value (or one component's),
    None where the completion could not be scored.

    `acall` is the async form (see `async_trl_reward`); `last_components` holds every named
    part's values for the last batch, for logging; `close` stops the worker processes.
    """

    def __init__(
        self,
        scorer: _BatchScorer,
        name: str,
        component: str | None = None,
        log_components: bool = True,
    ) -> None:
        self.scorer = scorer
        self.component = component
        self.log_components = log_components
        self.__name__ = name

    def __call__(self, **kwargs: Any) -> list[float | None]:
        """One reward per completion, for TRL's keyword arguments (see `read`)."""
        items, log_metric, log_extra = self.read(**kwargs)
        scores = self.scorer.score(items)
        self._log(items, scores, log_metric, log_extra)
        return self._values(scores)

    async def acall(self, **kwargs: Any) -> list[float | None]:
        """`__call__` for TRL's async path (uses `Reward.ascore`)."""
        items, log_metric, log_extra = self.read(**kwargs)
        scores = await self.scorer.ascore(items)
        self._log(items, scores, log_metric, log_extra)
        return self._values(scores)

    def read(
        self,
        *,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Sequence[int]] | None = None,
        trainer_state: Any = None,
        log_metric: Logger | None = None,
        log_extra: Logger | None = None,
        **columns: Any,
    ) -> tuple[list[Item], Logger | None, Logger | None]:
        """TRL's keyword arguments as samples, and TRL 1.x's two loggers when given."""
        items = batch_items(
            prompts,
            completions,
            completion_ids,
            getattr(trainer_state, "global_step", None),
            columns,
            self.scorer.reference_column,
        )
        return items, log_metric, log_extra

    @property
    def last_components(self) -> dict[str, list[float | None]]:
        """Each named part's value per completion of the last batch (None where unscored)."""
        return self._components(self.scorer.last())

    def _components(self, scores: list[Score]) -> dict[str, list[float | None]]:
        values = extra_values(self.scorer.reward.get(), scores)
        return {
            name: [value if score.ok else None for value, score in zip(column, scores, strict=True)]
            for name, column in values.items()
            if name != STATUS_OK
        }

    def _log(
        self,
        items: list[Item],
        scores: list[Score],
        log_metric: Logger | None,
        log_extra: Logger | None,
    ) -> None:
        """Through TRL's loggers, once per batch (by the reward, not its per-component
        functions): the share scored and the batch's reward-health signals (`health/...`)
        as metrics and each completion's status as a table column; with
        `log_components`, also each component's mean over the scored completions as a
        metric and its values as a column (`reward_funcs` turns that off: its component
        functions are logged by TRL itself)."""
        if self.component is not None or not scores:
            return
        if log_extra is not None:
            log_extra(f"{self.__name__}/status", [str(score.status) for score in scores])
        parts = self._components(scores) if self.log_components else {}
        for part, values in parts.items():
            column = f"{self.__name__}/{part}"
            if log_extra is not None:
                log_extra(column, values)
            scored = [value for value in values if value is not None]
            if log_metric is not None and scored:
                log_metric(column, sum(scored) / len(scored))
        if log_metric is not None:
            log_metric(f"{self.__name__}/{STATUS_OK}", sum(s.ok for s in scores) / len(scores))
            for name, value in health_metrics(self.scorer.reward.get(), items, scores).items():
                log_metric(f"{self.__name__}/{name}", value)

    def close(self) -> None:
        self.scorer.reward.close()

    def _values(self, scores: list[Score]) -> list[float | None]:
        if self.component is None:
            return [score.value if score.ok else None for score in scores]
        return [score.components.get(self.component) if score.ok else None for score in scores]


def trl_reward(
    reward: RewardSource,
    *,
    name: str | None = None,
    workers: int | None = None,
    state: str | StateStore | None = None,
    reference_column: str | None = None,
) -> TRLReward:
    """A reward function for `GRPOTrainer(reward_funcs=[...])`.

    `reward` is a built-in name, a YAML path or a spec mapping (picklable: each process
    builds its own reward on first use), or a loaded Reward (not picklable). `name` is
    what TRL logs it as (default: the built-in name or the YAML file's stem).

    >>> from rewardsmith.adapters.trl import trl_reward
    >>> accuracy = trl_reward("math", workers=1)
    >>> accuracy(prompts=["1+1?"], completions=["\\\\boxed{2}"], solution=["2"])
    [1.0]
    >>> accuracy.close()
    """
    lazy = LazyReward(reward, workers=workers, state=state)
    return TRLReward(_BatchScorer(lazy, reference_column), name or lazy.name)


def async_trl_reward(
    reward: RewardSource,
    *,
    name: str | None = None,
    workers: int | None = None,
    state: str | StateStore | None = None,
    reference_column: str | None = None,
) -> AsyncTRLReward:
    """`trl_reward` as an async reward function (TRL awaits it on its reward loop).

    The TRLReward behind it is its `reward_func` attribute.
    """
    return AsyncTRLReward(
        trl_reward(
            reward, name=name, workers=workers, state=state, reference_column=reference_column
        )
    )


class AsyncTRLReward(functools.partial):
    """`func.acall` as an async reward function that TRL names `func.__name__`.

    TRL detects async functions with `asyncio.iscoroutinefunction` (0.2x),
    `inspect.iscoroutinefunction` (1.x) or `trl.trainer.utils.is_async_callable` (1.16),
    and names them `__name__` (< 1.9) or `get_callable_name` (>= 1.9, which
    unwraps `functools.partial`). On Python 3.11 an object with an `async def __call__`
    passes only the last check, but a partial of a coroutine function passes all three;
    so this is a partial of a coroutine function named `func.__name__`, with `__name__`
    set too. It pickles as `AsyncTRLReward(func)`; `reward_func` is `func`.
    """

    reward_func: TRLReward

    def __new__(cls, func: TRLReward) -> AsyncTRLReward:
        self = super().__new__(cls, _named_acall(func.__name__), func)
        self.__name__ = func.__name__
        self.reward_func = func
        return self

    def __reduce__(self) -> tuple[type[AsyncTRLReward], tuple[TRLReward]]:
        return type(self), (self.reward_func,)


def _named_acall(name: str) -> Callable[..., Awaitable[list[float | None]]]:
    """A coroutine function named `name` that awaits `func.acall(**kwargs)`."""

    async def acall(func: TRLReward, **kwargs: Any) -> list[float | None]:
        return await func.acall(**kwargs)

    acall.__name__ = acall.__qualname__ = name
    return acall


class TRLRewardFuncs(NamedTuple):
    """`GRPOTrainer(reward_funcs=funcs)` with `GRPOConfig(reward_weights=weights)`."""

    funcs: list[TRLReward] | list[AsyncTRLReward]
    weights: list[float]


def reward_funcs(
    reward: RewardSource,
    *,
    is_async: bool = False,
    name: str | None = None,
    workers: int | None = None,
    state: str | StateStore | None = None,
    reference_column: str | None = None,
) -> TRLRewardFuncs:
    """The reward, then one function per named component (`<name>/<component>`), with
    weights 1, 0, 0, ...: only the reward trains, and TRL logs every component as its own
    column. All of them share one scoring of each batch. The reward is built here, in
    this process, to list its components.
    """
    lazy = LazyReward(reward, workers=workers, state=state)
    total = TRLReward(_BatchScorer(lazy, reference_column), name or lazy.name, log_components=False)
    parts = [
        TRLReward(total.scorer, f"{total.__name__}/{part}", component=part)
        for part in component_fallbacks(total.scorer.reward.get())
    ]
    funcs = [total, *parts]
    weights = [1.0] + [0.0] * len(parts)
    if is_async:
        return TRLRewardFuncs([AsyncTRLReward(func) for func in funcs], weights)
    return TRLRewardFuncs(funcs, weights)


def batch_items(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    completion_ids: Sequence[Sequence[int]] | None,
    step: int | None,
    columns: Mapping[str, Any],
    reference_column: str | None,
) -> list[Item]:
    """TRL's batch as samples (or Unscorable, naming the completion and why).

    Keyword arguments that are not a list with one entry per completion are not dataset
    columns and are ignored. Raises ValueError when prompts and completions differ in
    number or `reference_column` is not a column.
    """
    size = len(completions)
    if len(prompts) != size:
        raise ValueError(
            f"prompts, completions: expected one prompt per completion, "
            f"got {len(prompts)} and {size}"
        )
    columns = {
        key: value
        for key, value in columns.items()
        if isinstance(value, list | tuple) and len(value) == size
    }
    reference = _reference_column(columns, reference_column)
    items: list[Item] = []
    for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
        try:
            text = completion_text(completion)
        except ValueError as exc:
            items.append(Unscorable(f"completions[{i}]: {exc}"))
            continue
        meta = {key: value[i] for key, value in columns.items() if key != reference}
        if step is not None:
            meta["step"] = int(step)
        sample: dict[str, Any] = {"prompt": prompt, "completion": text, "meta": meta}
        if reference is not None:
            sample["reference"] = columns[reference][i]
        if completion_ids is not None:
            sample["completion_ids"] = [int(token) for token in completion_ids[i]]
        items.append(sample)
    return items


def _reference_column(columns: Mapping[str, Any], chosen: str | None) -> str | None:
    if chosen is None:
        return next((name for name in REFERENCE_COLUMNS if name in columns), None)
    if chosen not in columns:
        found = ", ".join(sorted(columns)) or "none"
        raise ValueError(f"reference_column: {chosen!r} is not a dataset column (got {found})")
    return chosen


def completion_text(completion: Any) -> str:
    """A completion's text: the string, or the content of the last assistant message."""
    if isinstance(completion, str):
        return completion
    if not isinstance(completion, list):
        raise ValueError(
            f"expected a string or a list of messages, got {type(completion).__name__}"
        )
    for message in reversed(completion):
        if isinstance(message, Mapping) and message.get("role", "assistant") == "assistant":
            content = message.get("content")
            if not isinstance(content, str):
                raise ValueError("the last assistant message has no text content")
            return content
    raise ValueError("no assistant message")
