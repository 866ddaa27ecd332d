"""Adapters: one rewardsmith reward in the calling conventions of RL trainers.

`trl` (GRPOTrainer reward functions), `verl` (custom `compute_score` functions) and
`openrlhf` (`reward_func` files and the remote reward-model protocol). What they share
lives here:

- `LazyReward`: the reward a trainer process uses, built on first use in that process
  from a built-in name, a YAML path, a spec mapping, or `$REWARDSMITH_REWARD`; it pickles
  as that recipe, never with its worker processes;
- `score_items` / `ascore_items`: one batch call for a trainer's batch, in which inputs
  the adapter could not read (`Unscorable`) get status `invalid` and the reward's fallback
  (`ascore_items` with a `Gatherer` scores per-sample calls within their gathered group,
  see `gather.py`);
- `with_step` / `env_step`: the training step for trainers that do not pass it
  (`meta.step`, from the request or `$REWARDSMITH_STEP`);
- `extra_values`: per-component values with the same keys for every sample, as verl's
  `reward_extra_info` and OpenRLHF's `extra_logs` need, plus `status_ok` (1.0 or 0.0) so
  that a sample that could not be scored is never mistaken for a model failure;
- reward health (report/alerts.py): every batch joins its step's health counts, an alert
  that starts firing is logged as a warning, and `health_metrics` gives the last batch's
  signals for a trainer's metric hook (TRL's `log_metric`).
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardsmith.adapters.gather import Gatherer
from rewardsmith.api import default_workers, load_reward
from rewardsmith.core.config import ConfigError
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Score, Status
from rewardsmith.report import monitor
from rewardsmith.report.alerts import HealthWatch
from rewardsmith.report.alerts import log as health_log
from rewardsmith.state import StateStore
from rewardsmith.state.store import ENV_VAR as STATE_ENV_VAR

ENV_REWARD = "REWARDSMITH_REWARD"
ENV_WORKERS = "REWARDSMITH_WORKERS"
ENV_STEP = "REWARDSMITH_STEP"
STATUS_OK = "status_ok"

RewardSource = Reward | str | Path | Mapping[str, Any]


class LazyReward:
    """The reward of one trainer process, built on first use in that process.

    `source` is a built-in name or YAML path, a spec mapping (`{"type": "math", ...}`), a
    loaded `Reward` (used as is; it cannot be pickled), or None for `$REWARDSMITH_REWARD`.
    `workers` defaults to `$REWARDSMITH_WORKERS`, else one per core (at most 8). A process
    forked after the reward was built builds its own, since worker pools do not survive
    a fork.
    """

    def __init__(
        self,
        source: RewardSource | None = None,
        *,
        workers: int | None = None,
        state: str | StateStore | None = None,
    ) -> None:
        self.source = source
        self.workers = workers
        self.state = state
        self._reward: Reward | None = None
        self._pid = 0
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """A short name for logs: the built-in name, the YAML file's stem, or the root's."""
        source = self.source if self.source is not None else os.environ.get(ENV_REWARD)
        if source is None:
            return "rewardsmith"
        if isinstance(source, Reward):
            return source.root.name
        if isinstance(source, Mapping):
            return str(source.get("name") or source.get("type") or "reward")
        return Path(source).stem

    def get(self) -> Reward:
        """The reward, built now if this process has none yet."""
        with self._lock:
            if self._reward is None or self._pid != os.getpid():
                self._reward, self._pid = self._build(), os.getpid()
                if self._reward is not self.source:
                    atexit.register(self._reward.close)
            return self._reward

    def close(self) -> None:
        """Stop the worker processes of a reward built here (a passed-in Reward is the caller's)."""
        with self._lock:
            if self._reward is not None and self._reward is not self.source:
                atexit.unregister(self._reward.close)
                self._reward.close()
            self._reward = None

    def _build(self) -> Reward:
        source = self.source if self.source is not None else os.environ.get(ENV_REWARD)
        if source is None or source == "":
            raise ConfigError(
                f"${ENV_REWARD} is not set: set it to a built-in reward name or a YAML file"
            )
        if isinstance(source, Reward):
            return source
        workers = self.workers or _env_workers() or default_workers()
        if isinstance(source, Mapping):
            return Reward.from_spec(dict(source), workers=workers, state=self.state)
        return load_reward(source, workers=workers, state=self.state)

    def __getstate__(self) -> dict[str, Any]:
        if isinstance(self.source, Reward):
            raise TypeError(
                "a loaded Reward cannot be pickled (its worker processes cannot cross "
                "processes): pass its built-in name, YAML path or spec instead"
            )
        return {"source": self.source, "workers": self.workers, "state": self.state}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["source"], workers=state["workers"], state=state["state"])


def _env_workers() -> int | None:
    text = os.environ.get(ENV_WORKERS, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"${ENV_WORKERS}: expected a positive integer, got {text!r}")
    return int(text)


@dataclass(frozen=True)
class Unscorable:
    """A trainer input the adapter could not turn into a sample, and why."""

    reason: str


Item = Mapping[str, Any] | Unscorable


def score_items(reward: Reward, items: Sequence[Item]) -> list[Score]:
    """One Score per item: the samples are scored in one batch; each `Unscorable` gets
    status `invalid`, the reward's fallback and its reason in `info.error`."""
    samples = [item for item in items if not isinstance(item, Unscorable)]
    return _merge(
        reward, items, _watched(reward, samples, reward.score(samples) if samples else [])
    )


async def ascore_items(
    reward: Reward, items: Sequence[Item], gatherer: Gatherer | None = None
) -> list[Score]:
    """`score_items` for asyncio callers; with `gatherer`, each item is scored within the
    group gathered from concurrent calls."""
    samples = [item for item in items if not isinstance(item, Unscorable)]
    if not samples:
        return _merge(reward, items, [])
    if gatherer is None:
        return _merge(reward, items, _watched(reward, samples, await reward.ascore(samples)))
    scores = await gatherer.ascore(reward, samples)
    return _merge(reward, items, _watched(reward, samples, scores))


def env_step() -> int | None:
    """The training step in `$REWARDSMITH_STEP` (read at each call, so a callback in the
    same process may change it), or None when unset. ConfigError when not an integer."""
    text = os.environ.get(ENV_STEP, "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ConfigError(f"${ENV_STEP}: expected the training step as an integer, got {text!r}")
    return int(text)


def with_step(items: Sequence[Item], step: int | None) -> list[Item]:
    """`items` with `meta.step` set to `step` where an item carries no step of its own."""
    if step is None:
        return list(items)
    return [
        item
        if isinstance(item, Unscorable) or "step" in item.get("meta", {})
        else {**item, "meta": {**item.get("meta", {}), "step": step}}
        for item in items
    ]


_WATCHES: weakref.WeakKeyDictionary[Reward, HealthWatch] = weakref.WeakKeyDictionary()
_WATCHES_LOCK = threading.Lock()


def _watched(
    reward: Reward, samples: Sequence[Mapping[str, Any]], scores: list[Score]
) -> list[Score]:
    """`scores`, after the batch joins its step's reward-health counts in this process,
    so that a reward-health alert that starts firing is logged as a warning in the
    trainer's log (report/alerts.py; $REWARDSMITH_HEALTH_WARNINGS=0 turns that off)."""
    with _WATCHES_LOCK:
        watch = _WATCHES.get(reward)
        if watch is None:
            watch = _WATCHES[reward] = HealthWatch(reward.root.name, _health_store(reward))
        step = max((_step_of(sample) for sample in samples), default=0)
        watch.observe(step, *_health_inputs(samples), scores)
    return scores


def _health_inputs(samples: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """The completions and group keys the health counts read."""
    completions = [str(s.get("completion", "")) for s in samples]
    groups = [str(s.get("group_id") or s.get("prompt", "")) for s in samples]
    return completions, groups


HEALTH_METRICS = (
    "mean_length", "error_rate", "timeout_rate", "hostile_rate", "repeated_share",
    "zero_variance_share", "alerts_firing",
)  # fmt: skip


def health_metrics(
    reward: Reward, items: Sequence[Item], scores: Sequence[Score]
) -> dict[str, float]:
    """A scored batch's reward-health signals (report/monitor.py; an unscorable item
    counts as an empty completion), and how many health alerts fire now, under
    `health/` names, for a trainer's metric hooks: always the same keys."""
    samples = [{} if isinstance(item, Unscorable) else item for item in items]
    counts = monitor.batch_counts(*_health_inputs(samples), scores, reward.root.name)
    signals = monitor.signals(counts)
    with _WATCHES_LOCK:
        watch = _WATCHES.get(reward)
        signals["alerts_firing"] = float(len(watch.firing)) if watch is not None else 0.0
    return {f"health/{name}": signals.get(name, 0.0) for name in HEALTH_METRICS}


def _health_store(reward: Reward) -> StateStore | None:
    """The store the reward's health counts go to: the reward's state store where one was
    chosen ($REWARDSMITH_STATE, `state=`) or is in use already, so that every process
    sharing it counts into one record per step; else none (counted in this process, and
    no state file is made for it)."""
    context = reward.context
    chosen = context.state is not None or os.environ.get(STATE_ENV_VAR)
    if not chosen and context.opened is None:
        return None
    try:
        return context.store()
    except Exception as exc:  # an unreachable store must not cost the batch its rewards
        health_log.warning("reward health: no state store (%s: %s); counting this "
                           "process's batches only", type(exc).__name__, exc)  # fmt: skip
        return None


def _step_of(sample: Mapping[str, Any]) -> int:
    meta = sample.get("meta")
    step = meta.get("step", 0) if isinstance(meta, Mapping) else 0
    return int(step) if isinstance(step, int) or (isinstance(step, str) and step.isdigit()) else 0


def _merge(reward: Reward, items: Sequence[Item], scores: list[Score]) -> list[Score]:
    scored = iter(scores)
    return [
        Score.failed(Status.INVALID, reward.root.fallback, item.reason)
        if isinstance(item, Unscorable)
        else next(scored)
        for item in items
    ]


def component_fallbacks(reward: Reward) -> dict[str, float]:
    """Every named part below the root, in tree order, with its fallback reward."""
    found: dict[str, float] = {}
    pending = list(reversed(reward.root.children()))
    while pending:
        part = pending.pop()
        found[part.name] = part.fallback
        pending.extend(reversed(part.children()))
    return found


def extra_values(reward: Reward, scores: Sequence[Score]) -> dict[str, list[float]]:
    """Per sample: the value of every named part below the root (its fallback where the
    sample has none), and `status_ok` (1.0 when the sample was scored, else 0.0). The keys
    are the same for every sample and every batch of this reward."""
    values = {
        name: [score.components.get(name, fallback) for score in scores]
        for name, fallback in component_fallbacks(reward).items()
    }
    values[STATUS_OK] = [float(score.ok) for score in scores]
    return values
