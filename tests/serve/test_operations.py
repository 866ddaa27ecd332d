"""Probes, Prometheus metrics (summed over worker processes) and bearer-token auth."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from rewardsmith.core.procfs import process_stat
from rewardsmith.judge.scripted import OpenAIServer, Reply, last_user
from rewardsmith.serve.app import create_app
from rewardsmith.serve.local import LocalServer
from rewardsmith.serve.metrics import _forget_dead_workers
from rewardsmith.serve.settings import ServerSettings
from tests.serve.conftest import AUTH, TOKEN, judge_reward

VERDICT = json.dumps({"reasoning": "matches the reference", "verdict": "correct"})
# What the judge of `status_server` does with a response marked `[reply=KIND]`.
REPLIES = {
    "correct": Reply.answer(VERDICT),
    "garbage": Reply.answer("I would rather not say."),  # no verdict: unparseable
    "fail": Reply.error(500),  # no retries: error
    "slow": Reply.answer(VERDICT, delay=3.0),  # past the judge's 1 s timeout
}
_REPLY = re.compile(r"\[reply=(\w+)\]")


def pinned_connections(server: LocalServer, count: int) -> list[http.client.HTTPConnection]:
    """Keep-alive connections held by `count` different workers."""
    held: dict[int, http.client.HTTPConnection] = {}
    for _ in range(200):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", "/healthz")
        connection.getresponse().read()
        worker = server.worker_for(connection.sock.getsockname()[1])
        if worker is None or worker in held:
            connection.close()
        else:
            held[worker] = connection
        if len(held) == count:
            return list(held.values())
    raise AssertionError(f"could not reach {count} distinct workers")


def call(connection: http.client.HTTPConnection, method: str, path: str, body: str = "") -> str:
    connection.request(method, path, body, {**AUTH, "Content-Type": "application/json"})
    response = connection.getresponse()
    text = response.read().decode()
    assert response.status == 200, text
    return text


def sample_count(metrics: str, status: str) -> float:
    found = re.search(rf'^rewardsmith_samples_total{{status="{status}"}} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.fixture(scope="module")
def status_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A `judge_verify` server (one worker) whose judge answers as each response's
    `[reply=KIND]` says (`REPLIES`) and times out after 1 s."""
    judge = OpenAIServer().start()
    judge.behaviour = lambda body: REPLIES[_REPLY.search(last_user(body)).group(1)]
    directory = tmp_path_factory.mktemp("status_server")
    reward = judge_reward(directory / "judge.yaml", judge.base_url, timeout_seconds=1)
    try:
        with LocalServer(reward, workers=1, log_path=directory / "serve.log") as server:
            yield server
    finally:
        judge.stop()


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_without_a_token(math_server: LocalServer, path: str):
    response = httpx.get(math_server.url + path)
    assert response.status_code == 200
    assert response.json()["status"] in ("ok", "ready")


def test_not_ready_until_the_reward_is_loaded():
    app = create_app(ServerSettings(reward="math"))
    client = TestClient(app)  # not entered: the app never starts, so the reward never loads
    assert client.get("/healthz").status_code == 200
    for response in (client.get("/readyz"), client.post("/v1/score", json={"samples": []})):
        assert response.status_code == 503
        assert response.json() == {"error": "not ready: loading the reward"}


def test_metrics_add_up_every_worker(math_server: LocalServer):
    first, second = pinned_connections(math_server, 2)
    before = sample_count(call(second, "GET", "/metrics"), "ok")
    body = '{"samples": [{"completion": "\\\\boxed{2}", "reference": "2"}]}'
    for _ in range(5):
        call(first, "POST", "/v1/score", body)  # all on the first worker

    metrics = call(second, "GET", "/metrics")  # read on the other worker

    assert sample_count(metrics, "ok") == before + 5
    for name in (
        'rewardsmith_requests_total{code="200",endpoint="/v1/score"}',
        'rewardsmith_request_seconds_bucket{endpoint="/v1/score",le="+Inf"}',
        'rewardsmith_reward_bucket{component="math",le="1.0"}',
        "rewardsmith_queue_depth",
        "rewardsmith_in_flight_requests",
    ):
        assert name in metrics
    in_flight = re.search(r"^rewardsmith_in_flight_requests (\S+)$", metrics, re.M)
    assert in_flight is not None and float(in_flight.group(1)) >= 1  # this scrape
    first.close()
    second.close()


def test_metrics_count_error_answers(api: httpx.Client):
    api.post("/get_reward", content=b"{", headers={"Content-Type": "application/json"})
    metrics = api.get("/metrics").text
    assert re.search(
        r'^rewardsmith_requests_total{code="400",endpoint="/get_reward"} ', metrics, re.M
    )


def test_metrics_count_each_status_of_an_openrlhf_batch(status_server: LocalServer):
    prompt = "Name the capital of France."
    query = {kind: f"{prompt} Paris [reply={kind}]" for kind in REPLIES}
    samples = [  # query, label: status
        (query["correct"], "Paris"),  # ok
        (query["correct"], "Paris"),  # ok
        (query["garbage"], "Paris"),  # unparseable
        (query["fail"], "Paris"),  # error
        (query["slow"], "Paris"),  # timeout
        ("a query without its prompt", "Paris"),  # invalid
        (query["correct"], ""),  # invalid: no reference to judge against
    ]
    body = {
        "query": [text for text, _ in samples],
        "prompts": [prompt] * len(samples),
        "labels": [label for _, label in samples],
    }

    response = httpx.post(f"{status_server.url}/get_reward", json=body, timeout=60)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["rewards"] == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert answer["extra_logs"]["status_ok"] == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    metrics = httpx.get(f"{status_server.url}/metrics").text
    counts = {"ok": 2, "unparseable": 1, "error": 1, "timeout": 1, "invalid": 2, "not_ok": 0}
    assert {status: sample_count(metrics, status) for status in counts} == counts


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({}, "Authorization: missing"),
        ({"Authorization": "Bearer wrong"}, "wrong bearer token"),
        ({"Authorization": f"Basic {TOKEN}"}, "expected 'Bearer <token>'"),
        ({"Authorization": "Bearer"}, "expected 'Bearer <token>'"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/get_reward"), ("POST", "/v1/score"), ("GET", "/metrics"), ("GET", "/openapi.json")],
)
def test_auth_is_required_everywhere_but_the_probes(
    math_server: LocalServer, headers: dict, problem: str, method: str, path: str
):
    response = httpx.request(method, math_server.url + path, headers=headers, json={})
    assert response.status_code == 401
    assert problem in response.json()["error"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_the_right_token_is_let_in(math_server: LocalServer):
    body = {"query": ["Q \\boxed{1}"], "prompts": ["Q"], "labels": ["1"]}
    response = httpx.post(math_server.url + "/get_reward", json=body, headers=AUTH)
    assert response.status_code == 200
    assert response.json()["rewards"] == [1.0]


def test_openapi_document_describes_auth_and_errors(api: httpx.Client):
    document = api.get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer"}
    }
    operation = document["paths"]["/get_reward"]["post"]
    assert operation["security"] == [{"bearer": []}]
    assert {"400", "401", "413", "422", "429", "504"} <= set(operation["responses"])
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/GetRewardRequest"}
    assert "security" not in document["paths"]["/healthz"]["get"]


def test_a_killed_worker_not_yet_reaped_has_its_live_gauges_dropped(tmp_path):
    """A SIGKILLed worker stays a zombie until its supervisor reaps it; its queue-depth
    and in-flight gauges must not be summed in the meantime."""
    zombie = subprocess.Popen(["sleep", "30"])
    running = subprocess.Popen(["sleep", "30"])
    try:
        os.kill(zombie.pid, signal.SIGKILL)
        while process_stat(zombie.pid)[0] != "Z":
            time.sleep(0.01)
        for pid in (zombie.pid, running.pid):
            (tmp_path / f"gauge_livesum_{pid}.db").write_bytes(b"")
        _forget_dead_workers(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == [f"gauge_livesum_{running.pid}.db"]
    finally:
        running.kill()
        zombie.wait()
        running.wait()
