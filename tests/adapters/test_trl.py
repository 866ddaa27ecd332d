"""The TRL adapter, called the way GRPOTrainer._calculate_rewards calls reward functions."""

from __future__ import annotations

import asyncio
import inspect
import pickle
import threading
from collections import defaultdict

import pytest

from rewardsmith.adapters import HEALTH_METRICS
from rewardsmith.adapters.trl import async_trl_reward, reward_funcs, trl_reward
from rewardsmith.core.pipeline import Reward
from tests.adapters.conftest import (
    PIPELINE,
    PIPELINE_COMPONENTS,
    PIPELINE_NAMES,
    from_a_thread_and_a_running_loop,
)

transformers = pytest.importorskip("transformers")
trl_utils = pytest.importorskip("trl.trainer.utils")


def grpo_inputs(rows: list[dict], chat: bool) -> tuple[list[dict], list]:
    """Dataset rows as GRPOTrainer holds them (`prompt` plus columns), and completions."""
    inputs = [
        {
            "prompt": [{"role": "user", "content": row["prompt"]}] if chat else row["prompt"],
            "solution": row["reference"],
            "difficulty": row["meta"]["difficulty"],
        }
        for row in rows
    ]
    completions = [
        [{"role": "assistant", "content": row["completion"]}] if chat else row["completion"]
        for row in rows
    ]
    return inputs, completions


class TRLLogs:
    """TRL 1.x's `log_metric` and `log_extra`, recording what reward functions log."""

    def __init__(self) -> None:
        self.metrics: dict[str, list[float]] = defaultdict(list)
        self.extra: dict[str, list] = defaultdict(list)

    def log_metric(self, name: str, value: float) -> None:
        self.metrics[name].append(value)

    def log_extra(self, column: str, values: list) -> None:
        self.extra[column].extend(values)


def call_like_grpo_trainer(
    func, inputs: list[dict], completions: list, step: int = 0, logs: TRLLogs | None = None
):
    """TRL's call: keyword arguments only, every column but prompt, the TrainerState (and,
    as TRL 1.x does, its two loggers)."""
    prompts = [example["prompt"] for example in inputs]
    completion_ids = [list(range(len(str(c)) // 4)) for c in completions]
    keys = [key for key in inputs[0] if key not in ("prompt", "completion", "completion_ids")]
    reward_kwargs = {key: [example[key] for example in inputs] for key in keys}
    reward_kwargs["trainer_state"] = transformers.TrainerState(global_step=step)
    if logs is not None:
        reward_kwargs["log_extra"] = logs.log_extra
        reward_kwargs["log_metric"] = logs.log_metric
    return func(
        prompts=prompts, completions=completions, completion_ids=completion_ids, **reward_kwargs
    )


async def run_like_trl_async_loop(funcs, inputs: list[dict], completions: list, step: int = 0):
    """TRL's async path: the functions gathered on a loop running in its own thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:

        async def gather():
            return await asyncio.gather(
                *(call_like_grpo_trainer(f, inputs, completions, step) for f in funcs)
            )

        return asyncio.run_coroutine_threadsafe(gather(), loop).result(timeout=60)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


@pytest.fixture(scope="module")
def math_reward():
    func = trl_reward("math", workers=1)
    yield func
    func.close()


@pytest.fixture(scope="module")
def pipeline_funcs():
    funcs = reward_funcs(PIPELINE, workers=1)
    yield funcs
    funcs.funcs[0].close()


@pytest.mark.parametrize("chat", [False, True], ids=["standard", "conversational"])
def test_math_rewards_match_the_labels_in_both_dataset_formats(rows, math_reward, chat):
    inputs, completions = grpo_inputs(rows, chat)
    rewards = call_like_grpo_trainer(math_reward, inputs, completions)
    assert rewards == [float(row["label"]) for row in rows]
    assert math_reward.__name__ == "math"


def test_components_are_logged_as_their_own_zero_weight_functions(rows, pipeline_funcs):
    inputs, completions = grpo_inputs(rows, chat=True)
    step = 136
    names = [func.__name__ for func in pipeline_funcs.funcs]
    assert names == list(PIPELINE_NAMES)
    assert pipeline_funcs.weights == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    logs = TRLLogs()
    by_name = {
        func.__name__.split("/")[-1]: call_like_grpo_trainer(func, inputs, completions, step, logs)
        for func in pipeline_funcs.funcs
    }
    labels = [float(row["label"]) for row in rows]
    assert by_name["correct"] == labels
    # the step came from trainer_state: the bonus has faded linearly from 0.2 over 500 steps
    fade = 0.2 * (1 - step / 500)
    assert by_name["format_bonus"] == pytest.approx(
        [fade * v for v in by_name["think_boxed_format"]]
    )
    assert by_name["math_pipeline"] == pytest.approx(
        [
            a + b
            for a, b in zip(by_name["correct_if_formatted"], by_name["format_bonus"], strict=True)
        ]
    )
    total = pipeline_funcs.funcs[0]
    assert total.last_components["correct"] == labels
    # TRL 1.x loggers, once per batch by the reward function: only what TRL does not
    # already log for the component functions, and the batch's reward health
    health = {f"math_pipeline/health/{name}": [0.0] for name in HEALTH_METRICS}
    health["math_pipeline/health/mean_length"] = [
        sum(len(row["completion"]) for row in rows) / len(rows)
    ]
    assert logs.metrics == {"math_pipeline/status_ok": [1.0], **health}
    assert logs.extra == {"math_pipeline/status": ["ok"] * len(rows)}


def test_a_lone_reward_function_logs_its_components_through_trls_loggers(rows):
    inputs, completions = grpo_inputs(rows, chat=True)
    func = trl_reward(PIPELINE, workers=1)
    logs = TRLLogs()
    call_like_grpo_trainer(func, inputs, completions, 136, logs)
    func.close()
    labels = [float(row["label"]) for row in rows]
    assert logs.metrics["math_pipeline/correct"] == [pytest.approx(sum(labels) / len(labels))]
    assert logs.extra["math_pipeline/correct"] == labels
    parts = {f"math_pipeline/{part}" for part in PIPELINE_COMPONENTS}
    health = {f"math_pipeline/health/{name}" for name in HEALTH_METRICS}
    assert set(logs.metrics) == {*parts, *health, "math_pipeline/status_ok"}
    assert set(logs.extra) == {*parts, "math_pipeline/status"}


def test_a_health_alert_reaches_trls_metrics_and_the_log(caplog):
    """A policy padding its completions: the length alert shows in TRL's metrics
    (`health/alerts_firing`) and as a warning in the trainer's log."""
    caplog.set_level("WARNING", logger="rewardsmith.health")
    func = trl_reward("math", workers=1)
    logs = TRLLogs()
    try:
        for step in range(1, 14):
            padding = " Let me check." * (0 if step < 4 else 30 * step)
            completions = [f"So \\boxed{{{answer}}}.{padding}" for answer in (2, 3)]
            inputs = [{"prompt": "1+1?", "solution": "2"}] * 2
            call_like_grpo_trainer(func, inputs, completions, step, logs)
    finally:
        func.close()
    firing = logs.metrics["math/health/alerts_firing"]
    assert firing[0] == 0.0 and firing[-1] >= 1.0
    assert (
        logs.metrics["math/health/mean_length"][-1]
        > 10 * logs.metrics["math/health/mean_length"][0]
    )
    warned = [r.getMessage() for r in caplog.records if "CompletionLengthDrift" in r.getMessage()]
    assert len(warned) == 1


def test_every_function_of_a_reward_shares_one_batched_scoring(rows):
    calls: list[int] = []
    with Reward.load(PIPELINE, workers=1) as reward:
        score = reward.score
        reward.score = lambda samples: calls.append(len(samples)) or score(samples)
        funcs = reward_funcs(reward).funcs
        inputs, completions = grpo_inputs(rows, chat=False)
        for func in funcs:
            call_like_grpo_trainer(func, inputs, completions, step=3)
        assert calls == [len(rows)]  # one call for the whole batch and all six functions
        call_like_grpo_trainer(funcs[0], inputs, completions, step=4)
        assert calls == [len(rows), len(rows)]  # a new batch (the step changed)


def test_reference_column_is_configurable_and_checked(math_reward):
    kwargs = {
        "prompts": ["1+1?", "1+1?"],
        "completions": ["\\boxed{2}", "\\boxed{3}"],
        "answer": ["3", "3"],
        "solution": ["2", "2"],
    }
    assert math_reward(**kwargs) == [1.0, 0.0]  # `solution` comes first
    by_answer = trl_reward("math", workers=1, reference_column="answer")
    assert by_answer(**kwargs) == [0.0, 1.0]
    with pytest.raises(ValueError, match="reference_column: 'gold' is not a dataset column"):
        trl_reward("math", reference_column="gold")(**kwargs)
    by_answer.close()


def test_unscorable_completions_get_none_never_a_made_up_zero(math_reward):
    logs = TRLLogs()
    rewards = math_reward(
        log_metric=logs.log_metric,
        log_extra=logs.log_extra,
        prompts=["q"] * 4,
        completions=[
            [{"role": "assistant", "content": "\\boxed{5}"}],
            [{"role": "assistant", "content": "\\boxed{4}"}],
            [{"role": "user", "content": "no reply"}],
            "\\boxed{5}",
        ],
        solution=["5", "5", "5", None],
    )
    assert rewards == [1.0, 0.0, None, None]  # a wrong answer is 0; unscorable ones are None
    assert logs.extra == {"math/status": ["ok", "ok", "invalid", "invalid"]}
    assert logs.metrics["math/status_ok"] == [0.5]
    # health counts every completion, the unreadable one as empty: (9 + 9 + 0 + 9) / 4
    assert logs.metrics["math/health/mean_length"] == [6.75]
    assert set(logs.metrics) == {"math/status_ok", *(f"math/health/{n}" for n in HEALTH_METRICS)}
    crashing = trl_reward({"type": "meta_value", "key": "value"}, workers=1)
    assert crashing(prompts=["p", "p"], completions=["a", "b"], value=[0.5, 0.7], crash=[0, 1]) == [
        0.5,
        None,
    ]
    assert crashing.last_components == {}


def test_pickles_as_a_recipe_and_scores_the_same(rows):
    inputs, completions = grpo_inputs(rows[:16], chat=True)
    sync = trl_reward(PIPELINE, workers=1)
    funcs = reward_funcs(PIPELINE, workers=1, is_async=True).funcs
    for original in (sync, *funcs[:2]):
        copy = pickle.loads(pickle.dumps(original))
        assert copy.__name__ == trl_utils.get_callable_name(copy) == original.__name__
        assert inspect.iscoroutinefunction(copy) == inspect.iscoroutinefunction(original)
    copy = pickle.loads(pickle.dumps(sync))
    assert call_like_grpo_trainer(copy, inputs, completions, 9) == call_like_grpo_trainer(
        sync, inputs, completions, 9
    )
    assert copy.scorer.reward.get() is not sync.scorer.reward.get()  # built in its own right
    with Reward.from_spec("math") as loaded, pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(trl_reward(loaded))
    for func in (sync, copy, funcs[0].reward_func):
        func.close()


def test_async_variant_is_awaited_on_trls_reward_loop(rows, pipeline_funcs):
    inputs, completions = grpo_inputs(rows, chat=True)
    single = async_trl_reward("math", workers=1)
    both = reward_funcs(PIPELINE, workers=1, is_async=True).funcs
    for func, name in zip([single, *both], ("math", *PIPELINE_NAMES), strict=True):
        # every way TRL versions detect async functions and name them
        assert asyncio.iscoroutinefunction(func) and inspect.iscoroutinefunction(func)
        assert trl_utils.is_async_callable(func)
        assert func.__name__ == trl_utils.get_callable_name(func) == name
    [math_rewards, *async_results] = asyncio.run(
        run_like_trl_async_loop([single, *both], inputs, completions, 136)
    )
    assert math_rewards == [float(row["label"]) for row in rows]
    sync_results = [
        call_like_grpo_trainer(func, inputs, completions, 136) for func in pipeline_funcs.funcs
    ]
    assert async_results == sync_results
    single.reward_func.close()
    both[0].reward_func.close()


def test_hung_checks_from_a_thread_and_a_running_loop_cost_one_sample_only(slow_math, hung_batch):
    func = trl_reward(slow_math)

    def call(caller: str) -> list[float | None]:
        return func(
            prompts=[s["prompt"] for s in hung_batch],
            completions=[s["completion"] for s in hung_batch],
            reference=[s["reference"] for s in hung_batch],
            caller=[caller] * len(hung_batch),  # two different batches: both are scored
        )

    from_thread, from_loop = from_a_thread_and_a_running_loop(
        lambda: call("thread"), lambda: call("loop")
    )
    assert from_thread == from_loop == [None, 1.0, 1.0]
