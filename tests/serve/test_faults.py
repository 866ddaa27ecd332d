"""Faults: a hung check, a judge that is down, a worker killed mid-request (nothing it
started survives it), SIGTERM with a request in flight, a hostile request that takes
long to score (the worker still answers probes at once) and one that runs past its
deadline (its checks are cancelled, so the next request is scored). The server keeps
serving, affected samples say what happened, and nothing hangs."""

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
from rewardsmith.serve.local import LocalServer, Watched, descendants, resident_bytes
from tests.serve.conftest import ROOT, judge_reward, judged, server_log

GOOD = json.loads((ROOT / "examples/process/group.jsonl").read_text().splitlines()[0])
SLOW_DEADLINE = 15.0
# checks that run for a minute unless stopped: longer than any request's deadline
SLOW_PIPELINE = """\
reward:
  type: weighted_sum
  name: total
  of:
    - {type: process, name: steps, split: step_marker, credit: min_form,
       outcome: {type: math, name: correct, timeout: 60}}
    - {type: format, name: marked, template: regex, pattern: '.*\\\\boxed\\{.*'}
"""
POWER = "(3+2\\sqrt{2})^{10^9}"  # sympy expands it, growing ~150 MB a second


def stepped(answer: str, reference: str = GOOD["reference"]) -> dict:
    """A two-step sample for the process pipelines, ending in `\\boxed{answer}`."""
    completion = f"Step 1: work it out.\n\nStep 2: \\boxed{{{answer}}}"
    return {**GOOD, "completion": completion, "reference": reference, "step_scores": [0.5, 0.5]}


def hung(index: int) -> dict:
    """A sample whose symbolic math check runs for minutes (sympy computes a factorial of
    ten million; with little memory, so it meets its time limit, not its memory limit)."""
    return stepped(f"(10^{{7}}+{index})!")


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


@pytest.fixture(scope="module")
def long_check_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One worker (every request reaches it), minute-long checks, a 15 s deadline."""
    directory = tmp_path_factory.mktemp("slow_checks")
    (directory / "reward.yaml").write_text(SLOW_PIPELINE)
    options = {"deadline_seconds": SLOW_DEADLINE}
    log = directory / "serve.log"
    with LocalServer(directory / "reward.yaml", workers=1, options=options, log_path=log) as server:
        yield server


@pytest.fixture(scope="module")
def power_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """Two workers whose math checks may run for a minute and grow to 4 GB."""
    directory = tmp_path_factory.mktemp("power")
    (directory / "reward.yaml").write_text("reward: {type: math, timeout: 60, memory_mb: 4096}\n")
    log = directory / "serve.log"
    with LocalServer(directory / "reward.yaml", workers=2, log_path=log) as server:
        yield server


def test_hung_check_times_out_and_the_rest_is_scored(pipeline_server: LocalServer):
    started = time.monotonic()
    response = httpx.post(
        f"{pipeline_server.url}/v1/score", json={"samples": [hung(1), GOOD, GOOD]}, timeout=60
    )
    assert response.status_code == 200, response.text
    # the check alone would run for minutes; its limits (1 s, then 2 s) stop it
    assert time.monotonic() - started < 60
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


def posted_to_worker(
    server: LocalServer, body: str, timeout: float, tries: int
) -> tuple[http.client.HTTPConnection, int]:
    """POST `body` to /v1/score without waiting for the answer; the open connection and
    the pid of the server worker that took the request."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    connection.request("POST", "/v1/score", body, {"Content-Type": "application/json"})
    client_port = connection.sock.getsockname()[1]
    for _ in range(tries):
        worker = server.worker_for(client_port)
        if worker is not None:
            return connection, worker
        time.sleep(0.02)
    raise AssertionError(f"no worker took the request; {server_log(server)}")


def test_worker_killed_mid_request_is_replaced(pipeline_server: LocalServer):
    body = json.dumps({"samples": [hung(i) for i in range(3, 7)]})  # about 4 s of checks
    connection, worker = posted_to_worker(pipeline_server, body, timeout=30, tries=100)
    killed = Watched([worker])

    os.kill(worker, signal.SIGKILL)
    killed_at = time.monotonic()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        connection.getresponse()
    assert time.monotonic() - killed_at < 3

    assert killed.wait_ended(60) == []  # (its connection closes before it has ended)
    killed.close()
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


BUSY_BODIES = {
    # 40 KB: a boxed run of digits ending in a letter, and a check that keeps sympy busy
    "hostile_40kb": [stepped("1" * 40_000 + "x"), hung(1)],
    # 1.4 MB: seconds of extraction, regexes, combining and rendering in the worker itself
    "large_batch": [
        {"completion": f"Step 1: a.\n\nStep 2: \\boxed{{{i}}}", "reference": "7"}
        for i in range(20_000)
    ],
}


@pytest.mark.parametrize("body", list(BUSY_BODIES))
def test_health_answers_at_once_while_a_request_is_scored(
    long_check_server: LocalServer, body: str
):
    samples = BUSY_BODIES[body]
    answered: list[httpx.Response] = []
    scoring = threading.Thread(
        target=lambda: answered.append(
            httpx.post(f"{long_check_server.url}/v1/score", json={"samples": samples}, timeout=120)
        )
    )
    probed: list[tuple[int, float]] = []  # status, seconds

    def probe() -> None:
        with httpx.Client(base_url=long_check_server.url, timeout=60) as client:
            while scoring.is_alive():
                started = time.monotonic()
                status = client.get("/healthz").status_code
                probed.append((status, time.monotonic() - started))
                time.sleep(0.05)

    probes = [threading.Thread(target=probe) for _ in range(4)]
    scoring.start()
    for thread in probes:
        thread.start()
    scoring.join()
    for thread in probes:
        thread.join()

    assert answered and answered[0].status_code in (200, 504), answered
    assert len(probed) > 20  # the probes ran while the request was being scored
    assert {status for status, _ in probed} == {200}
    slowest = max(seconds for _, seconds in probed)
    assert slowest < 1.0, f"/healthz took {slowest:.2f} s; {server_log(long_check_server)}"


def test_request_past_its_deadline_leaves_the_checks_to_the_next(long_check_server: LocalServer):
    # enough minute-long checks to occupy every check process, twice over
    slow = [hung(i) for i in range(2 * (os.cpu_count() or 1) + 2)]
    response = httpx.post(f"{long_check_server.url}/v1/score", json={"samples": slow}, timeout=120)
    assert response.status_code == 504, response.text

    honest = httpx.post(
        f"{long_check_server.url}/v1/score",
        json={"samples": [stepped("\\sin^2 x + \\cos^2 x", "1")]},
        timeout=120,
    )
    assert honest.status_code == 200, f"{honest.text}; {server_log(long_check_server)}"
    score = honest.json()["scores"][0]
    assert score["status"] == "ok" and score["components"]["correct"] == 1.0, score


def test_worker_killed_mid_check_leaves_no_process_behind(power_server: LocalServer):
    body = json.dumps(
        {"samples": [{"prompt": "p", "completion": f"\\boxed{{{POWER}}}", "reference": "1"}]}
    )
    connection, worker = posted_to_worker(power_server, body, timeout=60, tries=500)
    busy = None
    for _ in range(1200):  # until its check process is well into the power
        busy = next((p for p in descendants(worker) if (resident_bytes(p) or 0) > 200 << 20), None)
        if busy is not None:
            break
        time.sleep(0.05)
    assert busy is not None, f"no check process got busy; {server_log(power_server)}"
    started = Watched(descendants(worker))  # check processes (and a resource tracker)
    assert busy in started.fds

    os.kill(worker, signal.SIGKILL)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        connection.getresponse()
    survivors = started.wait_ended(60)
    started.close()

    assert survivors == [], f"outlived their worker: {survivors}; {server_log(power_server)}"
    power_server.wait_ready(120)


def test_launcher_killed_leaves_no_process_behind(tmp_path: Path):
    with LocalServer("math", workers=2, log_path=tmp_path / "serve.log") as server:
        started = Watched(descendants(server.pid))  # workers and their check processes
        assert len(started.running()) >= 4, server_log(server)
        os.kill(server.pid, signal.SIGKILL)
        survivors = started.wait_ended(60)
        started.close()
        assert survivors == [], f"outlived the launcher: {survivors}; {server_log(server)}"
