"""Faults: a hung check, a judge that is down, a worker killed mid-request, and SIGTERM
with a request in flight. The server keeps serving, affected samples say what happened,
and nothing hangs."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rewardsmith.judge.scripted import OpenAIServer
from rewardsmith.serve.local import LocalServer
from tests.serve.conftest import ROOT, judge_reward, judged, server_log

GOOD = json.loads((ROOT / "examples/process/group.jsonl").read_text().splitlines()[0])


def hung(index: int) -> dict:
    """A sample whose symbolic math check runs far past its 1 s time limit."""
    completion = f"Step 1: expand.\n\nStep 2: \\boxed{{(x+{index})^{{999999}} - (x+2)^{{999999}}}}"
    return {**GOOD, "completion": completion, "step_scores": [0.5, 0.5]}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def judge_down_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    directory = tmp_path_factory.mktemp("judge_down")
    reward = judge_reward(directory / "judge.yaml", f"http://127.0.0.1:{closed_port()}/v1")
    with LocalServer(reward, workers=1, log_path=directory / "serve.log") as server:
        yield server


def test_hung_check_times_out_and_the_rest_is_scored(pipeline_server: LocalServer):
    started = time.monotonic()
    response = httpx.post(
        f"{pipeline_server.url}/v1/score", json={"samples": [hung(1), GOOD, GOOD]}, timeout=60
    )
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 15
    scores = response.json()["scores"]
    assert [s["status"] for s in scores] == ["timeout", "ok", "ok"]
    assert "time limit" in scores[0]["info"]["correct"]["error"]
    assert scores[0]["components"]["correct"] == 0.0  # the math check's fallback
    assert scores[1]["components"]["correct"] == 1.0


def test_judge_down_gives_status_error_quickly(judge_down_server: LocalServer):
    started = time.monotonic()
    response = httpx.post(
        f"{judge_down_server.url}/v1/score", json={"samples": [judged("Paris")] * 2}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 5
    for score in response.json()["scores"]:
        assert score["status"] == "error"
        assert "connection" in json.dumps(score["info"]).lower()
    sample = judged("Paris")
    body = {"query": [sample["prompt"] + sample["completion"]], "prompts": [sample["prompt"]]}
    body["labels"] = [sample["reference"]]
    answer = httpx.post(f"{judge_down_server.url}/get_reward", json=body, timeout=30).json()
    assert answer["extra_logs"]["status_ok"] == [0.0]


def test_worker_killed_mid_request_is_replaced(pipeline_server: LocalServer):
    body = json.dumps({"samples": [hung(i) for i in range(3, 7)]})  # about 4 s of checks
    connection = http.client.HTTPConnection("127.0.0.1", pipeline_server.port, timeout=30)
    connection.request("POST", "/v1/score", body, {"Content-Type": "application/json"})
    client_port = connection.sock.getsockname()[1]
    worker = None
    for _ in range(100):
        worker = pipeline_server.worker_for(client_port)
        if worker is not None:
            break
        time.sleep(0.02)
    assert worker is not None, server_log(pipeline_server)

    os.kill(worker, signal.SIGKILL)
    killed_at = time.monotonic()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        connection.getresponse()
    assert time.monotonic() - killed_at < 3

    pipeline_server.wait_ready(60)
    assert worker not in pipeline_server.worker_pids()
    for _ in range(10):  # fresh connections, spread over both workers
        response = httpx.post(f"{pipeline_server.url}/v1/score", json={"samples": [GOOD]})
        assert response.status_code == 200 and response.json()["scores"][0]["status"] == "ok"
    metrics = httpx.get(f"{pipeline_server.url}/metrics").text
    # the killed worker's gauges (one request queued and in flight) are forgotten
    assert re.search(r"^rewardsmith_queue_depth 0\.0$", metrics, re.M), metrics
    assert re.search(r"^rewardsmith_in_flight_requests 1\.0$", metrics, re.M), metrics  # this one


def test_sigterm_lets_the_request_in_flight_finish(slow_reward: Path, judge: OpenAIServer):
    log = slow_reward.with_name("graceful.log")
    server = LocalServer(slow_reward, workers=2, options={"deadline_seconds": 10}, log_path=log)
    server.start()
    answers: list[httpx.Response] = []
    asked = len(judge.requests)
    request = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"{server.url}/v1/score", json={"samples": [judged("Paris", 2)]}, timeout=30)
        )
    )
    request.start()
    for _ in range(500):
        if len(judge.requests) > asked:  # the request is being scored
            break
        time.sleep(0.02)
    assert len(judge.requests) > asked, server.log()

    code = server.stop(signal.SIGTERM, timeout=30)
    request.join(30)

    assert code == 0, server.log()
    assert answers and answers[0].status_code == 200, server.log()
    assert answers[0].json()["scores"][0]["reward"] == 1.0
    assert "Shutting down" in server.log()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/healthz")
