"""Group gathering in-process: verl's `compute_score_async` called once per sample, as its
reward loop (0.7.1+) does, gets the rewards of the whole group scored at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewardsmith.adapters.gather import Gatherer, GatherSettings
from rewardsmith.adapters.openrlhf import ascore_openrlhf_with_scores
from rewardsmith.adapters.verl import VerlScorer, make_compute_score
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Status
from tests.group_rollouts import COMPLETIONS, GROUP_RELATIVE, ramped

SCHEDULED = ramped({"type": "math", "name": "correct"})
QUESTION = "What is 2 + 2?"
LONG_WAIT = 60.0  # a complete group never waits for it


@pytest.fixture(scope="module")
def reward() -> Iterator[Reward]:
    with Reward.from_spec(GROUP_RELATIVE) as built:
        yield built


def as_batch(reward: Reward, completions: list[str]) -> list[float]:
    """The rewards when the group is scored as one batch."""
    samples = [
        {"prompt": QUESTION, "completion": c, "reference": "4", "group_id": "math:0"}
        for c in completions
    ]
    return [score.value for score in reward.score(samples)]


async def one_at_a_time(scorer: VerlScorer, order: list[int]) -> dict[int, dict]:
    """Each rollout as its own concurrent `compute_score_async` call, in `order`."""
    calls = [
        scorer.acall("math", COMPLETIONS[i], "4", {"index": 0, "question": QUESTION}) for i in order
    ]
    return dict(zip(order, await asyncio.gather(*calls), strict=True))


def test_a_group_relative_reward_differs_on_groups_of_one(reward: Reward):
    """The premise: without gathering, per-sample calls see groups of one."""
    alone = [as_batch(reward, [c])[0] for c in COMPLETIONS]
    assert alone != as_batch(reward, COMPLETIONS)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.permutations(range(8)))
def test_eight_concurrent_verl_calls_equal_the_batch_in_any_order(reward: Reward, order):
    scorer = make_compute_score(reward, gather={"size": 8, "wait_seconds": LONG_WAIT})
    results = asyncio.run(one_at_a_time(scorer, list(order)))
    assert [results[i]["score"] for i in range(8)] == as_batch(reward, COMPLETIONS)
    assert all(results[i]["status_ok"] == 1.0 for i in range(8))


def test_calls_from_two_event_loops_in_two_threads_meet_in_one_group(reward: Reward):
    scorer = make_compute_score(reward, gather={"size": 8, "wait_seconds": LONG_WAIT})
    results: dict[int, dict] = {}

    def half(order: list[int]) -> None:
        results.update(asyncio.run(one_at_a_time(scorer, order)))

    threads = [threading.Thread(target=half, args=(part,)) for part in ([5, 0, 3, 6], [1, 7, 2, 4])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i]["score"] for i in range(8)] == as_batch(reward, COMPLETIONS)


def test_two_sqlite_mailboxes_on_one_file_gather_one_group(reward: Reward, tmp_path: Path):
    """What the server's workers do: each opens the same file; the group forms across."""
    gather = {"size": 8, "wait_seconds": LONG_WAIT, "mailbox": f"sqlite:///{tmp_path}/m.sqlite"}
    first, second = (
        make_compute_score(reward, gather=gather),
        make_compute_score(reward, gather=gather),
    )

    async def both() -> dict[int, dict]:
        a, b = await asyncio.gather(
            one_at_a_time(first, [6, 1, 4, 3]), one_at_a_time(second, [0, 7, 2, 5])
        )
        return {**a, **b}

    results = asyncio.run(both())
    assert [results[i]["score"] for i in range(8)] == as_batch(reward, COMPLETIONS)


@pytest.mark.parametrize("mailbox", ["memory://", "sqlite"])
def test_a_group_that_never_completes_is_scored_with_what_arrived_and_flagged(
    reward: Reward, mailbox: str, tmp_path: Path
):
    url = f"sqlite:///{tmp_path}/m.sqlite" if mailbox == "sqlite" else mailbox
    gatherer = Gatherer(GatherSettings(size=8, wait_seconds=0.5, mailbox=url))
    samples = [
        {"prompt": QUESTION, "completion": c, "reference": "4", "group_id": "math:0"}
        for c in COMPLETIONS[:5]
    ]

    async def each_alone() -> list:
        return await asyncio.gather(*(gatherer.ascore(reward, [s]) for s in reversed(samples)))

    scores = [row[0] for row in reversed(asyncio.run(each_alone()))]
    assert [s.value for s in scores] == as_batch(reward, COMPLETIONS[:5])
    assert all(s.info["group"] == {"size": 5, "expected": 8, "complete": False} for s in scores)


def test_a_sample_without_the_configured_key_gets_a_clear_status(reward: Reward):
    gatherer = Gatherer(GatherSettings(size=2, wait_seconds=LONG_WAIT, key="meta.uid"))
    [score] = asyncio.run(gatherer.ascore(reward, [{"completion": "\\boxed{4}", "reference": "4"}]))
    assert score.status is Status.INVALID
    assert "meta.uid: missing" in score.info["error"]


def test_groups_are_told_apart_by_key(reward: Reward):
    scorer = make_compute_score(
        reward, gather={"size": 2, "wait_seconds": LONG_WAIT, "key": "meta.index"}
    )

    async def two_groups() -> list:
        calls = [
            scorer.acall("math", COMPLETIONS[i], "4", {"index": i % 2, "question": QUESTION})
            for i in range(4)
        ]
        return await asyncio.gather(*calls)

    results = asyncio.run(two_groups())
    for index in (0, 1):
        expected = as_batch(reward, [COMPLETIONS[index], COMPLETIONS[index + 2]])
        assert [results[index]["score"], results[index + 2]["score"]] == expected


@pytest.mark.parametrize(
    ("gather", "message"),
    [
        ({"size": 8, "key": "uid"}, "key: expected 'group', 'prompt' or 'meta.<field>'"),
        ({"size": 0}, "size"),
        ({"size": 8, "mailbox": "redis://x"}, "mailbox: expected memory:// or sqlite:///path"),
    ],
)
def test_bad_gather_settings_name_the_field(gather: dict, message: str):
    with pytest.raises(
        ValueError, match=message.replace(".", r"\.").replace("<", ".").replace(">", ".")
    ):
        make_compute_score("math", gather=gather)


def test_a_gathering_scorer_pickles_as_its_settings():
    import pickle

    scorer = make_compute_score("math", gather={"size": 4})
    copy = pickle.loads(pickle.dumps(scorer))
    assert copy.gatherer is not None and copy.gatherer.settings == scorer.gatherer.settings


def test_the_step_for_verl_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    with Reward.from_spec(SCHEDULED) as scheduled:
        scorer = make_compute_score(scheduled)
        info = {"index": 0, "question": QUESTION}
        assert scorer("math", "\\boxed{4}", "4", info)["score"] == 1.0  # step 0
        monkeypatch.setenv("REWARDSMITH_STEP", "5")
        assert scorer("math", "\\boxed{4}", "4", info)["score"] == 1.5
        assert asyncio.run(scorer.acall("math", "\\boxed{4}", "4", info))["score"] == 1.5
        # a step in the dataset's extra_info wins
        assert scorer("math", "\\boxed{4}", "4", {**info, "step": 10})["score"] == 2.0
        monkeypatch.setenv("REWARDSMITH_STEP", "five")
        with pytest.raises(ValueError, match=r"\$REWARDSMITH_STEP: expected the training step"):
            scorer("math", "\\boxed{4}", "4", info)


@pytest.mark.parametrize(
    ("label", "status", "error"),
    [
        (4, Status.OK, None),
        (4.0, Status.OK, None),
        ([1, 2], Status.INVALID, "reference: expected the gold answer as a string or number"),
        ({"a": 1}, Status.INVALID, "reference: missing"),
        ({"answer": 4}, Status.OK, None),
        (None, Status.INVALID, "reference: missing"),
    ],
)
def test_openrlhf_labels_of_any_json_type_get_a_status_per_sample(label, status, error):
    with Reward.load("math") as math:
        query = ["Q \\boxed{4}", "Q \\boxed{4}"]
        _, scores = asyncio.run(ascore_openrlhf_with_scores(math, query, ["Q", "Q"], [label, "4"]))
    assert scores[0].status is status
    assert scores[1].status is Status.OK and scores[1].value == 1.0  # the rest is scored
    if error is None:
        assert scores[0].value == 1.0
    else:
        assert error in scores[0].info["math"]["error"]
