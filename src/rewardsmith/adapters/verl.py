"""verl: a rewardsmith reward as verl's custom reward function (`compute_score`).

Convention followed (verl 0.5-0.9, github.com/volcengine/verl: `get_custom_reward_fn` in
`verl/trainer/ppo/reward.py`, `verl/workers/reward_manager/naive.py` and `batch.py`,
`verl/experimental/reward_loop/`, docs `advance/reward_loop.rst`): verl loads a function
by file and name (0.5.0-0.7.0: `custom_reward_function.path` / `.name`; 0.7.1 on:
`reward.custom_reward_function.path` / `.name`, the old keys being migrated by 0.7.1-0.8
and ignored from 0.9.0 on; its `reward_kwargs` arrive as extra keyword arguments, ignored
here) and calls it

- per sample (NaiveRewardManager, DAPORewardManager, and from 0.7.1 on always, in the
  reward loop's `RewardLoopWorker`, in an executor thread):
  `compute_score(data_source=, solution_str=, ground_truth=, extra_info=)`, with the
  response decoded without special tokens, `reward_model.ground_truth` and the
  dataset's `extra_info` dict;
- per batch (0.5.0-0.7.0 only, `reward_model.reward_manager=batch`,
  BatchRewardManager): `compute_score(data_sources=, solution_strs=, ground_truths=,
  extra_infos=)`, returning one result per sample;
- awaited, in the reward loop, when `inspect.iscoroutinefunction` is true for it.

`rewardsmith.adapters.verl_check` tells whether the installed verl, given a command's
overrides, would call rewardsmith at all (see there what can and cannot be detected).

A result is a float, or a dict with `score` whose other keys verl collects per sample as
`reward_extra_info` (so they must be the same for every sample). verl puts the reward on
the response's last token; `token_level_rewards` lays out dense rewards per token.

Here each result is `{"score": value, <component>: value, ..., "status_ok": 1.0 or 0.0}`
(or the value alone with `details=False`). A sample that cannot be scored (status
invalid, timeout, error) gets its component's fallback as `score` and `status_ok` 0.0,
so infrastructure failures can be told from wrong answers; the float form cannot show
that. Samples are grouped by `extra_info["index"]` (the dataset row, the same for all
rollouts of a prompt), else by `extra_info["question"]`, else by ground truth. The
per-sample forms see groups of one, unless `make_compute_score(..., gather=...)` is
given: then `acall` (the reward loop's concurrent per-sample calls) waits for the rest of
its group and the group is scored once (see `rewardsmith.adapters.gather`).

verl passes no training step: `meta.step` is `extra_info["step"]` when the dataset has
it, else `$REWARDSMITH_STEP` (read at each call), else 0.

Use it through the module's own file and `$REWARDSMITH_REWARD` (a built-in name or a
YAML path, set in the Ray workers' environment), e.g. on verl 0.7.1 and later:

    FILE=$(python -c 'import rewardsmith.adapters.verl as m; print(m.__file__)')
    ... reward.custom_reward_function.path=$FILE \\
        reward.custom_reward_function.name=compute_score_async

(0.5.0-0.7.0: `reward_model.reward_manager=batch custom_reward_function.path=$FILE
custom_reward_function.name=compute_score_batch`),

or with `make_compute_score` in a file of your own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rewardsmith.adapters import (
    Item,
    LazyReward,
    RewardSource,
    ascore_items,
    env_step,
    extra_values,
    score_items,
    with_step,
)
from rewardsmith.adapters.gather import Gatherer, GatherSettings
from rewardsmith.core.types import Score
from rewardsmith.state import StateStore

Result = float | dict[str, float]


class VerlScorer:
    """verl reward functions for one reward: call it per sample, `batch` for the
    BatchRewardManager, `acall` for the reward loop. It pickles without its reward's
    workers and builds the reward on first use in each process. With `gatherer`,
    `acall` scores each sample within its gathered group."""

    def __init__(
        self, reward: LazyReward, details: bool = True, gatherer: Gatherer | None = None
    ) -> None:
        self.reward = reward
        self.details = details
        self.gatherer = gatherer

    def __call__(
        self,
        data_source: Any,
        solution_str: str,
        ground_truth: Any,
        extra_info: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Result:
        """One sample's result."""
        item = verl_sample(data_source, solution_str, ground_truth, extra_info)
        return self._results(score_items(self.reward.get(), _stepped([item])))[0]

    async def acall(
        self,
        data_source: Any,
        solution_str: str,
        ground_truth: Any,
        extra_info: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Result:
        """`__call__` awaited, for the reward loop (uses `Reward.ascore`; with a
        gatherer, returns once the sample's group has been scored)."""
        item = verl_sample(data_source, solution_str, ground_truth, extra_info)
        scores = await ascore_items(self.reward.get(), _stepped([item]), self.gatherer)
        return self._results(scores)[0]

    def batch(
        self,
        data_sources: Sequence[Any],
        solution_strs: Sequence[str],
        ground_truths: Sequence[Any],
        extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
        **kwargs: Any,
    ) -> list[Result]:
        """One result per sample, the whole batch scored in one call."""
        size = len(solution_strs)
        infos = [None] * size if extra_infos is None else list(extra_infos)
        if not len(data_sources) == len(ground_truths) == len(infos) == size:
            raise ValueError(
                "data_sources, solution_strs, ground_truths, extra_infos: expected one per "
                f"sample, got {len(data_sources)}, {size}, {len(ground_truths)}, {len(infos)}"
            )
        items = [
            verl_sample(*row)
            for row in zip(data_sources, solution_strs, ground_truths, infos, strict=True)
        ]
        return self._results(score_items(self.reward.get(), _stepped(items)))

    def _results(self, scores: list[Score]) -> list[Result]:
        if not self.details:
            return [score.value for score in scores]
        extra = extra_values(self.reward.get(), scores)
        return [
            {**{name: values[i] for name, values in extra.items()}, "score": score.value}
            for i, score in enumerate(scores)
        ]


def make_compute_score(
    reward: RewardSource,
    *,
    details: bool = True,
    workers: int | None = None,
    state: str | StateStore | None = None,
    gather: GatherSettings | Mapping[str, Any] | None = None,
) -> VerlScorer:
    """verl reward functions for `reward` (a built-in name, YAML path, spec or Reward).

    In a file given to `custom_reward_function.path`:

        compute_score = make_compute_score("reward.yaml")
        compute_score_batch = compute_score.batch      # reward_manager=batch
        compute_score_async = compute_score.acall      # the reward loop

    `gather` (e.g. `{"size": 8, "key": "meta.index"}`, with `size` the rollouts per
    prompt) makes `acall` score whole groups: see `rewardsmith.adapters.gather`.
    """
    gatherer = None if gather is None else Gatherer(GatherSettings.model_validate(gather))
    return VerlScorer(LazyReward(reward, workers=workers, state=state), details, gatherer)


def _stepped(items: list[Item]) -> list[Item]:
    return with_step(items, env_step())


def verl_sample(
    data_source: Any, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None
) -> dict[str, Any]:
    """verl's arguments for one sample as a rewardsmith sample (see the module docstring)."""
    info = dict(extra_info) if isinstance(extra_info, Mapping) else {}
    source = str(data_source)
    reference = _plain(ground_truth)
    question = info.get("question")
    prompt = question if isinstance(question, str) else ""
    sample = {
        "prompt": prompt,
        "completion": solution_str,
        "reference": reference,
        "meta": {**info, "data_source": source},
    }
    if "index" in info:
        sample["group_id"] = f"{source}:{info['index']}"
    elif not prompt:
        sample["group_id"] = f"{source}:{reference}"
    return sample


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (as verl's non-tensor batch may hold) as Python values."""
    return value.tolist() if hasattr(value, "tolist") and not isinstance(value, str) else value


def token_level_rewards(score: Score, length: int) -> list[float]:
    """One reward per response token: each dense span's reward on its last token, the
    layout of verl's `token_level_scores` (spans without a token range are skipped).

    Raises ValueError when `score` has no dense rewards or a span ends past `length`.
    """
    if score.dense is None:
        raise ValueError("score: has no dense rewards")
    per_token = [0.0] * length
    for span in score.dense:
        if span.token_end is None or span.token_end <= 0:
            continue
        if span.token_end > length:
            raise ValueError(
                f"dense: a span ends at token {span.token_end}, past the {length} response tokens"
            )
        per_token[span.token_end - 1] += span.reward
    return per_token


# The reward named by $REWARDSMITH_REWARD, built on first use in each process.
compute_score = VerlScorer(LazyReward())
compute_score_batch = compute_score.batch
compute_score_async = compute_score.acall
