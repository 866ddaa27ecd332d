"""Overload and deadlines: bounded admission answers 429 with Retry-After, memory stays
bounded, a request that outlives its deadline gets 504; nothing answers 5xx otherwise."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter

import httpx

from rewardsmith.serve.local import LocalServer
from tests.serve.conftest import SLOW_DEADLINE, SLOW_QUEUE, judged, server_log

CLIENTS = 40  # 10x what 2 workers x 2 admitted requests can hold
SECONDS = 4.0
JUDGE_DELAY = 0.5
PADDING = "so the answer is Paris. " * 1000  # ~24 KB per request


def openrlhf_body(sample: dict) -> dict:
    return {
        "query": [sample["prompt"] + sample["completion"]],
        "prompts": [sample["prompt"]],
        "labels": [sample["reference"]],
    }


def test_overload_is_refused_with_429_and_memory_stays_bounded(slow_server: LocalServer):
    body = openrlhf_body(judged(PADDING, delay=JUDGE_DELAY))
    for _ in range(2 * slow_server.workers):  # every worker has imported the judge's client
        assert httpx.post(f"{slow_server.url}/get_reward", json=body).status_code == 200
    baseline = slow_server.memory()
    statuses: Counter[int] = Counter()
    problems: list[str] = []
    peak: dict[int, int] = dict(baseline)
    depths: list[float] = []
    stop = time.monotonic() + SECONDS
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=slow_server.url, timeout=30) as http:
            while time.monotonic() < stop:
                try:
                    response = http.post("/get_reward", json=body)
                except httpx.HTTPError as exc:
                    with lock:
                        problems.append(f"{type(exc).__name__}: {exc}")
                    continue
                with lock:
                    statuses[response.status_code] += 1
                if response.status_code == 429:
                    retry = response.headers.get("Retry-After", "")
                    if not retry.isdigit() or int(retry) < 1:
                        problems.append(f"bad Retry-After {retry!r}")
                    time.sleep(0.05)
                elif response.status_code == 200 and response.json()["rewards"] != [1.0]:
                    problems.append(f"wrong answer {response.text}")

    def watch() -> None:
        while time.monotonic() < stop:
            for pid, rss in slow_server.memory().items():
                peak[pid] = max(peak.get(pid, 0), rss)
            metrics = httpx.get(f"{slow_server.url}/metrics", timeout=10).text
            depths.append(float(re.search(r"^rewardsmith_queue_depth (\S+)$", metrics, re.M)[1]))
            time.sleep(0.2)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    threads.append(threading.Thread(target=watch))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not problems, problems[:5]
    assert set(statuses) <= {200, 429}, (statuses, server_log(slow_server))
    assert statuses[429] > statuses[200] > 0, statuses
    assert max(depths) <= SLOW_QUEUE * slow_server.workers
    for pid, rss in peak.items():
        assert rss < baseline.get(pid, rss) + 100 * 2**20, (pid, baseline, peak)
    assert httpx.get(f"{slow_server.url}/readyz").status_code == 200


def test_request_past_its_deadline_gets_504(slow_server: LocalServer):
    started = time.monotonic()
    response = httpx.post(
        f"{slow_server.url}/v1/score", json={"samples": [judged("Paris", delay=10)]}, timeout=30
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 504, response.text
    assert "deadline" in response.json()["error"]
    assert SLOW_DEADLINE <= elapsed < SLOW_DEADLINE + 3
    quick = httpx.post(f"{slow_server.url}/v1/score", json={"samples": [judged("Paris")]})
    assert quick.status_code == 200 and quick.json()["scores"][0]["reward"] == 1.0
