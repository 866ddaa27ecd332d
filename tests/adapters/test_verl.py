"""The verl adapter, loaded and called the way verl's reward managers do."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import pickle
import sys

import numpy as np
import pytest

import rewardsmith.adapters.verl as verl_adapter
from rewardsmith.adapters.verl import make_compute_score, token_level_rewards, verl_sample
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Score
from tests.adapters.conftest import PIPELINE, PIPELINE_COMPONENTS, from_a_thread_and_a_running_loop


def verl_batch(rows: list[dict]) -> dict:
    """The non-tensor batch verl keeps per rollout: data_source, ground truth, extra_info."""
    return {
        "data_sources": np.array(["math_grpo"] * len(rows), dtype=object),
        "solution_strs": [row["completion"] for row in rows],
        "ground_truths": [row["reference"] for row in rows],
        "extra_infos": np.array(
            [
                {"index": int(row["group_id"][1:]), "question": row["prompt"], "split": "train"}
                for row in rows
            ],
            dtype=object,
        ),
    }


def sample_kwargs(batch: dict, i: int) -> dict:
    """Sample `i` of a batch as the per-sample reward managers pass it."""
    return {
        "data_source": batch["data_sources"][i],
        "solution_str": batch["solution_strs"][i],
        "ground_truth": batch["ground_truths"][i],
        "extra_info": batch["extra_infos"][i],
    }


def load_like_verl(monkeypatch, name: str, **reward_kwargs):
    """verl's get_custom_reward_fn: import the file as `custom_module`, take `name`, and
    merge `custom_reward_function.reward_kwargs` into every call."""
    spec = importlib.util.spec_from_file_location("custom_module", verl_adapter.__file__)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "custom_module", module)
    spec.loader.exec_module(module)
    raw = getattr(module, name)
    if inspect.iscoroutinefunction(raw):

        async def call_async(*args, **kwargs):
            return await raw(*args, **{**kwargs, **reward_kwargs})

        return module, call_async

    def call(*args, **kwargs):
        return raw(*args, **{**kwargs, **reward_kwargs})

    return module, call


@pytest.fixture
def verl_file(monkeypatch):
    """`load_like_verl` with the module's reward from $REWARDSMITH_REWARD (the pipeline);
    the rewards of the modules loaded are closed afterwards."""
    monkeypatch.setenv("REWARDSMITH_REWARD", str(PIPELINE))
    monkeypatch.setenv("REWARDSMITH_WORKERS", "1")
    modules = []

    def load(name: str, **reward_kwargs):
        module, compute_score = load_like_verl(monkeypatch, name, **reward_kwargs)
        modules.append(module)
        return module, compute_score

    yield load
    for module in modules:
        module.compute_score.reward.close()


@pytest.fixture(scope="module")
def pipeline_score():
    scorer = make_compute_score(PIPELINE, workers=1)
    yield scorer
    scorer.reward.close()


def check_results(results: list, rows: list[dict]) -> None:
    assert all(set(r) == {*PIPELINE_COMPONENTS, "score", "status_ok"} for r in results)
    assert [r["correct"] for r in results] == [float(row["label"]) for row in rows]
    assert all(r["status_ok"] == 1.0 for r in results)
    assert all(isinstance(v, float) for r in results for v in r.values())


def test_per_sample_form_as_the_naive_reward_manager_calls_it(verl_file, rows):
    module, compute_score = verl_file("compute_score", strict_box_verify=False)
    batch = verl_batch(rows)
    results = [compute_score(**sample_kwargs(batch, i)) for i in range(len(rows))]
    check_results(results, rows)
    assert module.compute_score.reward.name == "math_pipeline"  # from $REWARDSMITH_REWARD


def test_batch_form_as_the_batch_reward_manager_calls_it(verl_file, rows):
    module, compute_score = verl_file("compute_score_batch")
    batch = verl_batch(rows)
    results = compute_score(**batch)
    check_results(results, rows)
    alone = [module.compute_score(**sample_kwargs(batch, i)) for i in range(len(rows))]
    assert alone == results  # the per-sample form agrees


def test_async_form_as_the_reward_loop_awaits_it(verl_file, rows):
    module, compute_score = verl_file("compute_score_async")
    assert inspect.iscoroutinefunction(module.compute_score_async)
    batch = verl_batch(rows)

    async def reward_loop_worker():  # one task per sample, gathered
        tasks = [
            asyncio.create_task(compute_score(**sample_kwargs(batch, i))) for i in range(len(rows))
        ]
        return await asyncio.gather(*tasks)

    check_results(asyncio.run(reward_loop_worker()), rows)


def test_sync_form_in_the_reward_loops_executor_threads(pipeline_score, rows):
    batch = verl_batch(rows)

    async def reward_loop_worker():
        loop = asyncio.get_running_loop()
        return await asyncio.gather(
            *(
                loop.run_in_executor(None, lambda i=i: pipeline_score(**sample_kwargs(batch, i)))
                for i in range(len(rows))
            )
        )

    check_results(asyncio.run(reward_loop_worker()), rows)


def test_unscorable_sample_gets_the_fallback_and_status_ok_zero():
    scorer = make_compute_score({"type": "math", "fallback": -1.0}, workers=1)
    results = scorer.batch(
        ["d", "d", "d"], ["\\boxed{4}", "\\boxed{5}", "\\boxed{4}"], ["4", "4", ""]
    )
    assert results == [
        {"status_ok": 1.0, "score": 1.0},
        {"status_ok": 1.0, "score": 0.0},  # a wrong answer: scored, 0
        {"status_ok": 0.0, "score": -1.0},  # no ground truth: the fallback, marked
    ]
    plain = make_compute_score("math", details=False, workers=1)
    assert plain("d", "\\boxed{4}", "4") == 1.0
    scorer.reward.close()


def test_hung_checks_from_a_thread_and_a_running_loop(slow_math, hung_batch):
    scorer = make_compute_score(slow_math)
    args = [
        ["hung"] * len(hung_batch),
        [s["completion"] for s in hung_batch],
        [s["reference"] for s in hung_batch],
        [{"question": s["prompt"]} for s in hung_batch],
    ]
    from_thread, from_loop = from_a_thread_and_a_running_loop(
        lambda: scorer.batch(*args), lambda: [scorer(*row) for row in zip(*args, strict=True)]
    )
    for results in (from_thread, from_loop):
        assert [(r["score"], r["status_ok"]) for r in results] == [
            (0.0, 0.0),
            (1.0, 1.0),
            (1.0, 1.0),
        ]


def test_pickles_without_its_workers_and_scores_the_same(pipeline_score, rows):
    batch = verl_batch(rows[:8])
    expected = pipeline_score.batch(**batch)
    scorer = pickle.loads(pickle.dumps(pipeline_score))
    batch_form = pickle.loads(pickle.dumps(pipeline_score.batch))
    async_form = pickle.loads(pickle.dumps(pipeline_score.acall))
    assert scorer(**sample_kwargs(batch, 0)) == expected[0]
    assert batch_form(**batch) == expected
    assert inspect.iscoroutinefunction(async_form)
    assert asyncio.run(async_form(**sample_kwargs(batch, 1))) == expected[1]
    for copy in (scorer, batch_form.__self__, async_form.__self__):
        assert copy.reward.get() is not pipeline_score.reward.get()
        copy.reward.close()
    pickle.dumps(verl_adapter.compute_score_batch)  # the module's default, as Ray ships it


def test_samples_are_grouped_by_dataset_row_then_question_then_ground_truth():
    by_index = verl_sample("gsm8k", "x", "4", {"index": 7, "question": "q"})
    assert by_index["group_id"] == "gsm8k:7" and by_index["prompt"] == "q"
    assert "group_id" not in verl_sample("gsm8k", "x", "4", {"question": "q"})
    assert verl_sample("gsm8k", "x", np.int64(4), None)["group_id"] == "gsm8k:4"
    assert verl_sample("gsm8k", "x", np.int64(4), None)["reference"] == 4


def test_token_level_rewards_put_each_step_on_its_last_token():
    sample = {
        "completion": "ab\n\ncd",
        "token_offsets": [[0, 2], [2, 4], [4, 6]],
        "step_scores": [0.5, -0.25],
    }
    with Reward.from_spec({"type": "process", "split": "blank_line"}) as reward:
        [score] = reward.score([sample])
    assert token_level_rewards(score, 3) == [0.0, 0.5, -0.25]
    assert token_level_rewards(score, 5) == [0.0, 0.5, -0.25, 0.0, 0.0]
    with pytest.raises(ValueError, match="past the 2 response tokens"):
        token_level_rewards(score, 2)
    with pytest.raises(ValueError, match="no dense rewards"):
        token_level_rewards(Score(1.0), 3)
