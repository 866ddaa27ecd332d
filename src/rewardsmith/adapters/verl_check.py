"""Does the installed verl call rewardsmith with these overrides? Run it with the
overrides of a verl command before training:

    python -m rewardsmith.adapters.verl_check reward.custom_reward_function.path=$FILE \\
        reward.custom_reward_function.name=compute_score_async

It composes verl's own `ppo_trainer` config with the overrides (so a key verl does not
have fails as in verl), reads the custom reward function the way verl's trainer does
(`verl.trainer.ppo.reward.get_custom_reward_fn`, after `migrate_legacy_reward_impl` on
0.7.1-0.8.x, whose trainer calls it), and exits 1 naming what verl would ignore or
reject. What it knows of verl's versions:

- 0.5.0-0.7.0: `custom_reward_function.path/name` and `reward_model.reward_manager`
  (`naive` calls per sample, `batch` per batch: `compute_score_batch`);
- 0.7.1-0.8.x: the reward loop reads `reward.custom_reward_function.path/name` and
  `reward.reward_manager.name`, calls per sample (awaiting a coroutine function) and has
  no `batch` manager; the trainer still migrates the 0.5-0.7.0 keys;
- 0.9.0 on: the trainer no longer migrates them: they are accepted and ignored, and verl
  scores with its built-in rules. rewardsmith is then never imported, so nothing inside
  it can notice at run time; this check is the only warning.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rewardsmith.adapters.verl import VerlScorer

REWARD_LOOP = (0, 7, 1)  # reward.custom_reward_function.*, per-sample calls, no batch manager
LEGACY_IGNORED = (0, 9, 0)  # the trainer stops migrating custom_reward_function.* and co.
CURRENT_KEYS = "reward.custom_reward_function.path and reward.custom_reward_function.name"


def version_tuple(version: str) -> tuple[int, int, int]:
    """`"0.9.1"` as `(0, 9, 1)` (suffixes such as `.post1` or `rc1` are dropped)."""
    numbers = [int(part) for part in re.findall(r"\d+", version)[:3]]
    major, minor, patch = [*numbers, 0, 0, 0][:3]
    return major, minor, patch


def verl_config(overrides: Sequence[str]) -> Any:
    """The installed verl's `ppo_trainer` config composed with `overrides`, as its trainer
    sees it (with the 0.5-0.7.0 keys migrated where its trainer migrates them)."""
    import verl
    from hydra import compose, initialize_config_dir

    config_dir = Path(verl.__file__).parent / "trainer" / "config"
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        config = compose(config_name="ppo_trainer", overrides=list(overrides))
    if REWARD_LOOP <= version_tuple(verl.__version__) < LEGACY_IGNORED:
        from verl.experimental.reward_loop import migrate_legacy_reward_impl

        config = migrate_legacy_reward_impl(config)
    return config


def problems(config: Any, version: str, reward_fn: Callable[..., Any] | None) -> list[str]:
    """What makes verl `version` ignore or misuse rewardsmith in `config` (the composed
    config); `reward_fn` is what `get_custom_reward_fn(config)` returned."""
    v = version_tuple(version)
    found = []
    if v >= LEGACY_IGNORED:
        legacy = {
            "custom_reward_function.path": _get(config, "custom_reward_function", "path"),
            "custom_reward_function.name": _get(config, "custom_reward_function", "name"),
            "reward_model.reward_manager": _get(config, "reward_model", "reward_manager"),
        }
        for key, value in legacy.items():
            if value is not None:
                found.append(
                    f"{key}={value}: verl {version} ignores this key (its trainer stopped "
                    f"reading it in 0.9.0); use {CURRENT_KEYS} (reward.reward_manager.name "
                    "for the manager)"
                )
    if reward_fn is None:
        keys = CURRENT_KEYS if v >= REWARD_LOOP else "custom_reward_function.path and .name"
        found.append(
            f"no custom reward function: verl {version} scores with its built-in rules and "
            f"never calls rewardsmith; set {keys}"
        )
        return found
    manager = (
        _get(config, "reward", "reward_manager", "name")
        if v >= REWARD_LOOP
        else _get(config, "reward_model", "reward_manager") or "naive"
    )
    if manager == "batch" and v >= REWARD_LOOP:
        found.append(
            f"reward manager 'batch': verl {version} has none (removed in 0.7.1; it fails with "
            "'Unknown reward manager: batch'); leave the manager at naive and name "
            "compute_score_async"
        )
        return found
    form = _rewardsmith_form(reward_fn)
    if form == "batch" and manager != "batch":
        found.append(
            f"the {manager!r} reward manager calls the function once per sample, but it is "
            "rewardsmith's batch form: name compute_score or compute_score_async"
        )
    if form == "sample" and manager == "batch":
        found.append(
            "the 'batch' reward manager calls the function once per batch, but it is "
            "rewardsmith's per-sample form: name compute_score_batch"
        )
    return found


def _get(config: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(config, Mapping) or key not in config:
            return None
        config = config[key]
    return config


def _rewardsmith_form(reward_fn: Callable[..., Any]) -> str | None:
    """ "batch" or "sample" for rewardsmith's verl functions (unwrapped from verl's
    `functools.partial(_call_with_kwargs, raw_fn, reward_kwargs)`), else None. Told by
    qualified name: verl imports the file anew, so its classes are not this module's."""
    raw = reward_fn.args[0] if isinstance(reward_fn, functools.partial) else reward_fn
    name = getattr(getattr(raw, "__func__", None), "__qualname__", type(raw).__qualname__)
    scorer = VerlScorer.__qualname__
    return {
        scorer: "sample",
        f"{scorer}.__call__": "sample",
        f"{scorer}.acall": "sample",
        f"{scorer}.batch": "batch",
    }.get(name)


def check(overrides: Sequence[str]) -> tuple[list[str], Callable[..., Any] | None]:
    """The problems of `overrides` for the installed verl, and the reward function verl
    would call (None when it would call none)."""
    import verl
    from verl.trainer.ppo.reward import get_custom_reward_fn

    config = verl_config(overrides)
    reward_fn = get_custom_reward_fn(config)
    return problems(config, verl.__version__, reward_fn), reward_fn


def main(argv: Sequence[str]) -> int:
    """Print the problems (exit 1) or what verl will call (exit 0)."""
    import verl

    found, reward_fn = check(argv)
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    if found:
        return 1
    form = _rewardsmith_form(reward_fn) if reward_fn is not None else None
    print(f"ok: verl {verl.__version__} calls rewardsmith's {form or 'unknown'} form")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
