"""The Ray backend on a local two-CPU cluster: the same Scores as the local backend,
state shared through Redis, and no group lost or counted twice when workers die."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import ray
import redis

from rewardsmith.core.config import ConfigError
from rewardsmith.core.pipeline import Reward, RewardDefinition
from rewardsmith.core.types import Status
from rewardsmith.dist import RayScorer
from rewardsmith.state import open_store
from tests.dist import ray_helpers
from tests.dist.ray_helpers import FALLBACK, group, scripted_reward

ROOT = Path(__file__).resolve().parents[2]
MATH_BATCH = ROOT / "examples" / "math_grpo.jsonl"
MATH_PIPELINE = ROOT / "examples" / "math_pipeline.yaml"


@pytest.fixture(scope="module", autouse=True)
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    ray.cloudpickle.register_pickle_by_value(ray_helpers)
    yield
    ray.shutdown()


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.sqlite'}"


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_example_batch_gets_the_local_backends_scores(state_url):
    batch = rows(MATH_BATCH)
    with Reward.load(MATH_PIPELINE, state=state_url) as reward:
        local = reward.score(batch)
    with RayScorer(MATH_PIPELINE, actors=2, state=state_url, groups_per_task=1) as scorer:
        spread = scorer.score(batch)
        usage = scorer.usage()
    assert spread == local  # values, components, statuses and info, sample by sample
    assert len({s.value for s in local}) > 2  # a batch that tells rewards apart
    groups = len({r["group_id"] for r in batch})
    assert usage["ray_workers"] == 2
    assert usage["ray_tasks"] == groups and usage["ray_retries"] == 0


def test_invalid_samples_keep_their_place_and_the_rest_is_scored(state_url):
    batch = [{"completion": "\\boxed{4}", "reference": "4"}, {"reference": "4"}]
    with RayScorer("math", actors=1, state=state_url) as scorer:
        first, second = scorer.score(batch)
    assert (first.value, first.status) == (1.0, Status.OK)
    assert second.status is Status.INVALID and "completion" in second.info["error"]


def test_a_batch_wide_reward_is_kept_in_one_task_so_it_matches_local(state_url):
    spec = {"type": "length_grpo_lambda", "fraction": 0.5, "correct": {"type": "math"}}
    batch = rows(MATH_BATCH)
    with Reward.from_spec(spec, state=state_url) as reward:
        assert reward.batch_wide
        local = reward.score(batch)
    with RayScorer(RewardDefinition(spec), actors=2, state=state_url) as scorer:
        assert scorer.score(batch) == local
        assert scorer.stats.tasks == 1


def test_adaptive_state_is_shared_with_the_workers_through_redis(redis_url):
    """CEEH keeps each prompt's shortest correct length in the store. Scoring the first
    half of every group on Ray and the second half locally gives what two local passes
    give, so the Ray workers wrote the state the local pass reads."""
    spec = {"type": "length_ceeh", "correct": {"type": "math"}}
    batch = rows(MATH_BATCH)
    first_half, second_half = batch[0::2], batch[1::2]

    def flushed() -> str:
        with redis.Redis.from_url(redis_url) as client:
            client.flushdb()
        return redis_url

    with Reward.from_spec(spec, state=flushed()) as reward:
        local_first, local_second = reward.score(first_half), reward.score(second_half)
        local_state = reward.context.store().scan("length.shortest_correct")
    with Reward.from_spec(spec, state=flushed()) as reward:
        second_alone = reward.score(second_half)
    assert second_alone != local_second  # the first pass's state changes the second's rewards

    with RayScorer(RewardDefinition(spec), actors=2, state=flushed(), groups_per_task=1) as s:
        ray_first = s.score(first_half)
    with open_store(redis_url) as store:
        assert store.scan("length.shortest_correct") != {}
    with Reward.from_spec(spec, state=redis_url) as reward:
        after_ray = reward.score(second_half)
        assert reward.context.store().scan("length.shortest_correct") == local_state
    assert ray_first == local_first
    assert after_ray == local_second


def kill_when_marked(mark: Path, killed: list[int]) -> threading.Thread:
    """Kill (SIGKILL) the worker process that writes its id to `mark`, once it does."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        pid = int(mark.read_text())
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_worker_killed_mid_task_loses_nothing_and_counts_nothing_twice(tmp_path):
    mark = tmp_path / "scoring-g0"
    batch = [
        sample
        for g in range(8)
        for sample in group(
            f"g{g}",
            {"value": g, "sleep": 0.2, **({"mark": str(mark)} if g == 0 else {})},
            {"value": g + 0.5, "sleep": 0.2},
        )
    ]
    killed: list[int] = []
    watcher = kill_when_marked(mark, killed)
    with RayScorer(scripted_reward, actors=2, groups_per_task=2) as scorer:
        scores = scorer.score(batch)
        pids = scorer.worker_pids()
    watcher.join(timeout=5)
    assert len(killed) == 1 and killed[0] not in pids  # it died, and was replaced
    assert [s.value for s in scores] == [s["meta"]["value"] for s in batch]
    assert {s.status for s in scores} == {Status.OK}
    assert scorer.stats.workers_lost == 1
    assert scorer.stats.retries == 2  # the lost task's two groups, each on its own
    assert scorer.stats.groups_failed == 0


def test_a_group_that_kills_every_worker_fails_alone_after_max_attempts():
    batch = [s for g in range(4) for s in group(f"g{g}", {"value": g}, {"value": g})]
    batch[4]["meta"]["exit"] = True  # group g2 takes its worker down, every time
    with RayScorer(scripted_reward, actors=2, groups_per_task=2, max_attempts=3) as scorer:
        scores = scorer.score(batch)
    poisoned = [s for s, row in zip(scores, batch, strict=True) if row["group_id"] == "g2"]
    healthy = [s for s, row in zip(scores, batch, strict=True) if row["group_id"] != "g2"]
    assert all(s.status is Status.ERROR and s.value == FALLBACK for s in poisoned)
    assert "Ray worker lost" in poisoned[0].info["error"]
    assert "attempt 3 of 3" in poisoned[0].info["error"]
    assert [s.value for s in healthy] == [0, 0, 1, 1, 3, 3]
    assert all(s.ok for s in healthy)
    assert scorer.stats.workers_lost == 3 and scorer.stats.groups_failed == 1


def test_a_hung_task_is_stopped_at_its_timeout_and_reported_as_a_timeout():
    batch = group("fine", {"value": 1}) + group("stuck", {"value": 2, "hang": True})
    start = time.monotonic()
    with RayScorer(
        scripted_reward, actors=2, groups_per_task=1, max_attempts=2, task_timeout=1.0
    ) as scorer:
        fine, stuck = scorer.score(batch)
    assert time.monotonic() - start < 60
    assert (fine.value, fine.status) == (1.0, Status.OK)
    assert stuck.status is Status.TIMEOUT and stuck.value == FALLBACK
    assert stuck.info["error"] == "task ran longer than 1 s (attempt 2 of 2)"
    assert scorer.stats.workers_lost == 2


def test_a_reward_the_workers_cannot_build_is_one_clear_error():
    with pytest.raises(ConfigError, match=r"a Ray worker could not build it: .*no GPU"):
        RayScorer(ray_helpers.reward_that_only_the_driver_can_build, actors=1)


def settled_free_cpus(expected: float) -> float:
    """The cluster's free CPUs once they read `expected` (each worker holds one), or
    what they read after 20 s."""
    deadline = time.monotonic() + 20
    while True:
        free = ray.available_resources().get("CPU", 0.0)
        if free == expected or time.monotonic() > deadline:
            return free
        time.sleep(0.1)


def test_bad_definitions_and_settings_fail_before_any_worker_starts(tmp_path):
    assert settled_free_cpus(2.0) == 2.0
    with pytest.raises(ConfigError, match=r"reward\.type: unknown component 'nope'"):
        RayScorer(RewardDefinition({"type": "nope"}))
    with pytest.raises(ConfigError, match="state: memory:// would be private"):
        RayScorer("math", state="memory://")
    with pytest.raises(ConfigError, match="max_attempts"):
        RayScorer("math", max_attempts=0)
    with pytest.raises(ConfigError, match="task_timeout"):
        RayScorer("math", task_timeout=0)
    with pytest.raises(ConfigError, match="state: a reward built by a function"):
        RayScorer(scripted_reward, state=f"sqlite:///{tmp_path / 's.sqlite'}")
    assert settled_free_cpus(2.0) == 2.0
    with RayScorer(scripted_reward, actors=1):  # a worker that starts does hold a CPU
        assert settled_free_cpus(1.0) == 1.0


def test_a_reward_that_raises_fails_its_groups_without_losing_the_worker():
    batch = group("a", {"value": 1}) + group("b", {"value": 2})
    with RayScorer(ray_helpers.raising_reward, actors=1, groups_per_task=1) as scorer:
        scores = scorer.score(batch)
    assert all(s.status is Status.ERROR and s.value == FALLBACK for s in scores)
    assert scores[0].info["error"] == "Ray worker error: RuntimeError: bug in a custom reward"
    assert scorer.stats.workers_lost == 0 and scorer.stats.retries == 0
    assert scorer.stats.groups_failed == 2
