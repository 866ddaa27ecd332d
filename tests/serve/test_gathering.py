"""`rewardsmith serve --group-size` over HTTP with 2 workers: OpenRLHF's one-query
requests of a group, landing on either worker, are scored as one group; the training
step from the body, the header or `POST /step`; labels of any JSON type."""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from rewardsmith.api import load_reward
from rewardsmith.serve.local import LocalServer
from tests.group_rollouts import COMPLETIONS, GROUP_RELATIVE, ramped
from tests.openrlhf_client import rollouts
from tests.serve.conftest import AUTH, server_log

SIZE = 8
WAIT = 10.0  # generous: a complete group never waits for it; an incomplete one does
# GRPO-lambda length shaping over math correctness, times a weight ramping with the step.
REWARD = {"reward": ramped(GROUP_RELATIVE)}
PROMPT = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def reward_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gathering") / "reward.yaml"
    path.write_text(json.dumps(REWARD))  # JSON is YAML
    return path


@pytest.fixture(scope="module")
def gathering_server(reward_file: Path) -> Iterator[LocalServer]:
    options = {"group_size": SIZE, "group_wait_seconds": WAIT}
    with LocalServer(reward_file, workers=2, options=options) as server:
        yield server


@pytest.fixture(scope="module")
def batch_rewards(reward_file: Path) -> list[float]:
    """The group scored as one batch, in-process."""
    samples = [{"prompt": PROMPT, "completion": c, "reference": 4} for c in COMPLETIONS]
    with load_reward(str(reward_file)) as reward:
        return [score.value for score in reward.score(samples)]


def one_query(server: LocalServer, i: int, prompt: str = PROMPT) -> float:
    """Rollout `i` as OpenRLHF 0.9.1+ sends it: one query per request, on its own
    connection (so that uvicorn may give it to either worker)."""
    body = {"query": [prompt + COMPLETIONS[i] + "<|im_end|>"], "prompts": [prompt], "labels": [4]}
    response = httpx.post(f"{server.url}/get_reward", json=body, timeout=WAIT * 4)
    assert response.status_code == 200, f"{response.text}\n{server_log(server)}"
    return response.json()["rewards"][0]


def concurrently(server: LocalServer, order: list[int], prompt: str = PROMPT) -> list[float]:
    """The rewards of the rollouts in `order`, each sent at once as its own request,
    listed by rollout index."""
    with ThreadPoolExecutor(len(order)) as pool:
        rewards = list(pool.map(lambda i: one_query(server, i, prompt), order))
    by_index = dict(zip(order, rewards, strict=True))
    return [by_index[i] for i in sorted(order)]


def test_the_premise_groups_of_one_score_differently(reward_file: Path, batch_rewards):
    with load_reward(str(reward_file)) as reward:
        alone = [
            reward.score([{"prompt": PROMPT, "completion": c, "reference": 4}])[0].value
            for c in COMPLETIONS
        ]
    assert alone != batch_rewards


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_eight_one_query_requests_on_two_workers_equal_the_batch(
    gathering_server: LocalServer, batch_rewards: list[float], seed: int
):
    order = list(range(SIZE))
    random.Random(seed).shuffle(order)
    assert concurrently(gathering_server, order, PROMPT) == batch_rewards


def test_openrlhfs_own_client_one_request_per_rollout_equals_the_batch(
    gathering_server: LocalServer, batch_rewards: list[float]
):
    """OpenRLHF 0.11.2's executor generates the group's 8 rollouts at once and posts
    each as its own request, with the dataset's raw integer label."""
    responses = [c + "<|im_end|>" for c in COMPLETIONS]
    outputs = rollouts(f"{gathering_server.url}/get_reward", PROMPT, 4, responses)
    assert [o["reward"] for o in outputs] == [[r] for r in batch_rewards]
    assert [o["extra_logs"]["status_ok"] for o in outputs] == [[1.0]] * SIZE


def connections_on_each_worker(server: LocalServer, per_worker: int) -> list[socket.socket]:
    """`per_worker` open connections held by each of the server's workers (uvicorn's
    workers accept from one socket; connections are opened until both have enough)."""
    held: dict[int, list[socket.socket]] = {}
    spare: list[socket.socket] = []
    for _ in range(200):
        if len(held) == server.workers and all(len(c) >= per_worker for c in held.values()):
            break
        sock = socket.create_connection(("127.0.0.1", server.port))
        give_up = time.monotonic() + 30
        while (worker := server.worker_for(sock.getsockname()[1])) is None:
            assert time.monotonic() < give_up, "no worker accepted the connection"
            time.sleep(0.01)
        (held.setdefault(worker, []) if len(held.get(worker, [])) < per_worker else spare).append(
            sock
        )
    for sock in spare:
        sock.close()
    assert len(held) == server.workers, f"connections reached only workers {sorted(held)}"
    return [sock for socks in held.values() for sock in socks[:per_worker]]


def post_raw(sock: socket.socket, path: str, body: dict) -> dict:
    """POST `body` on an open connection and read the JSON answer."""
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(head.encode() + data)
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    status, _, rest = answer.partition(b"\r\n")
    assert b" 200 " in status, answer
    return json.loads(rest.partition(b"\r\n\r\n")[2])


def test_a_group_split_across_both_workers_equals_the_batch(
    gathering_server: LocalServer, batch_rewards: list[float]
):
    """Four rollouts go to each worker, for certain: the group meets in the shared mailbox."""
    socks = connections_on_each_worker(gathering_server, SIZE // 2)
    order = list(range(SIZE))
    random.Random(7).shuffle(order)

    def send(i: int, sock: socket.socket) -> float:
        body = {
            "query": [PROMPT + COMPLETIONS[i] + "<|im_end|>"],
            "prompts": [PROMPT],
            "labels": [4],
        }
        return post_raw(sock, "/get_reward", body)["rewards"][0]

    with ThreadPoolExecutor(SIZE) as pool:
        rewards = list(pool.map(send, order, socks))
    by_index = dict(zip(order, rewards, strict=True))
    assert [by_index[i] for i in range(SIZE)] == batch_rewards


def test_an_incomplete_group_is_scored_after_the_wait_and_flagged(
    gathering_server: LocalServer, reward_file: Path
):
    prompt = PROMPT.replace("2 + 2", "1 + 3")  # a group of its own
    samples = [
        {"prompt": prompt, "completion": COMPLETIONS[i], "reference": 4, "group_id": "g"}
        for i in range(5)
    ]
    with ThreadPoolExecutor(5) as pool:
        answers = list(
            pool.map(
                lambda sample: httpx.post(
                    f"{gathering_server.url}/v1/score", json={"samples": [sample]}, timeout=WAIT * 4
                ),
                samples,
            )
        )
    scores = [answer.json()["scores"][0] for answer in answers]
    assert all(s["info"]["group"] == {"size": 5, "expected": 8, "complete": False} for s in scores)
    with load_reward(str(reward_file)) as reward:
        assert [s["reward"] for s in scores] == [x.value for x in reward.score(samples)]


def full_group(step_field: int | None = None) -> dict:
    """A whole group in one /v1/score request (complete at once: no waiting)."""
    samples = [
        {"prompt": PROMPT, "completion": c, "reference": 4, "group_id": "step-check"}
        for c in COMPLETIONS
    ]
    return {"samples": samples} if step_field is None else {"samples": samples, "step": step_field}


def steps_seen(server: LocalServer, body: dict, headers: dict | None = None) -> set[int]:
    response = httpx.post(f"{server.url}/v1/score", json=body, headers=headers, timeout=WAIT * 4)
    assert response.status_code == 200, response.text
    return {score["info"]["ramp"]["step"] for score in response.json()["scores"]}


def test_the_step_comes_from_the_body_the_header_or_post_step(gathering_server: LocalServer):
    assert steps_seen(gathering_server, full_group()) == {0}
    assert steps_seen(gathering_server, full_group(5)) == {5}
    assert steps_seen(gathering_server, full_group(), {"X-Rewardsmith-Step": "7"}) == {7}
    assert steps_seen(gathering_server, full_group(5), {"X-Rewardsmith-Step": "7"}) == {5}
    try:
        set_step = httpx.post(f"{gathering_server.url}/step", json={"step": 3})
        assert set_step.status_code == 200 and set_step.json() == {"step": 3}
        # every worker sees it: each request on a fresh connection
        for _ in range(6):
            assert steps_seen(gathering_server, full_group()) == {3}
        assert steps_seen(gathering_server, full_group(), {"X-Rewardsmith-Step": "4"}) == {4}
    finally:
        httpx.post(f"{gathering_server.url}/step", json={"step": 0})


def test_a_bad_step_is_one_clear_error(gathering_server: LocalServer):
    bad_header = httpx.post(
        f"{gathering_server.url}/v1/score",
        json=full_group(),
        headers={"X-Rewardsmith-Step": "-1"},
    )
    assert bad_header.status_code == 422
    assert "X-Rewardsmith-Step: expected the training step" in bad_header.json()["error"]
    bad_body = httpx.post(f"{gathering_server.url}/step", json={"step": "three"})
    assert bad_body.status_code == 422 and "step" in bad_body.json()["error"]


@pytest.mark.parametrize(
    ("labels", "status_ok"),
    [
        ([4], [1.0]),
        ([[1, 2]], [0.0]),
        ([{"a": 1}], [0.0]),
        ([None], [0.0]),
        ([4, [1, 2], {"a": 1}, None, "4"], [1.0, 0.0, 0.0, 0.0, 1.0]),
    ],
)
def test_labels_of_any_json_type_give_200_and_a_status_per_sample(
    math_server: LocalServer, labels: list, status_ok: list[float]
):
    body = {
        "query": ["Q \\boxed{4}"] * len(labels),
        "prompts": ["Q"] * len(labels),
        "labels": labels,
    }
    response = httpx.post(f"{math_server.url}/get_reward", json=body, headers=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["extra_logs"]["status_ok"] == status_ok
    assert answer["rewards"] == status_ok  # math: 1.0 when correct, fallback 0.0 when unusable
