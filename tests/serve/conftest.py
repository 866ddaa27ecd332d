"""Real `rewardsmith serve` processes on loopback ports, shared by the server tests.

- `math_server`: the built-in `math` reward, 2 workers, bearer auth, a 1 MiB body limit;
- `pipeline_server`: a YAML pipeline with dense step credit, a math outcome whose
  symbolic checks time out after 1 s, and a format check;
- `slow_server`: a `judge_verify` reward whose judge (a scripted OpenAI-compatible server
  in this process) answers after the delay written in the response as `[delay=SECONDS]`,
  with at most 2 requests admitted per worker and a 3 s deadline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rewardsmith.judge.scripted import OpenAIServer, Reply, last_user
from rewardsmith.serve.local import LocalServer

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_BODY = 1 << 20
SLOW_QUEUE = 2
SLOW_DEADLINE = 3.0
_DELAY = re.compile(r"\[delay=([\d.]+)\]")

PIPELINE = """\
description: dense step credit with a math outcome, plus a format check
reward:
  type: weighted_sum
  name: total
  weights: [1.0, 0.5]
  of:
    - {type: process, name: steps, split: step_marker, credit: min_form,
       outcome: {type: math, name: correct, timeout: 1, retry_timeout: 2}}
    - {type: format, name: marked, template: regex, pattern: '.*\\\\boxed\\{.*'}
"""


def judge_reward(path: Path, base_url: str, timeout_seconds: float = 30) -> Path:
    """A `judge_verify` reward file for the judge at `base_url` (no retries, no cache)."""
    judge = {
        "base_url": base_url,
        "model": "test-judge",
        "api_key": "test-key",
        "max_retries": 0,
        "timeout_seconds": timeout_seconds,
        "max_concurrency": 64,
        "cache_path": None,
    }
    spec = {"reward": {"type": "judge_verify", "name": "judge", "judge": judge}}
    path.write_text(json.dumps(spec))  # JSON is YAML
    return path


def judged(completion: str, delay: float = 0.0) -> dict:
    """A sample for the judge reward; the judge answers it after `delay` seconds."""
    return {
        "prompt": "Name the capital of France.",
        "completion": f"{completion} [delay={delay}]",
        "reference": "Paris",
    }


def server_log(server: LocalServer) -> str:
    return f"server log:\n{server.log()[-3000:]}"


@pytest.fixture(scope="session")
def math_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    log = tmp_path_factory.mktemp("math_server") / "serve.log"
    options = {"max_body_bytes": MAX_BODY}
    with LocalServer("math", workers=2, token=TOKEN, options=options, log_path=log) as server:
        yield server


@pytest.fixture(scope="session")
def api(math_server: LocalServer) -> Iterator[httpx.Client]:
    """An authenticated client of `math_server`."""
    with httpx.Client(base_url=math_server.url, headers=AUTH, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def pipeline_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    directory = tmp_path_factory.mktemp("pipeline_server")
    (directory / "reward.yaml").write_text(PIPELINE)
    with LocalServer(
        directory / "reward.yaml", workers=2, log_path=directory / "serve.log"
    ) as server:
        yield server


@pytest.fixture(scope="session")
def judge() -> Iterator[OpenAIServer]:
    """A judge that finds every response correct, after the response's `[delay=...]`."""
    verdict = json.dumps({"reasoning": "matches the reference", "verdict": "correct"})

    def answer(body: dict) -> Reply:
        found = _DELAY.search(last_user(body))
        return Reply.answer(verdict, delay=float(found.group(1)) if found else 0.0)

    server = OpenAIServer().start()
    server.behaviour = answer
    yield server
    server.stop()


@pytest.fixture(scope="session")
def slow_reward(tmp_path_factory: pytest.TempPathFactory, judge: OpenAIServer) -> Path:
    return judge_reward(tmp_path_factory.mktemp("slow") / "judge.yaml", judge.base_url)


@pytest.fixture(scope="session")
def slow_server(slow_reward: Path) -> Iterator[LocalServer]:
    options = {"max_queue": SLOW_QUEUE, "deadline_seconds": SLOW_DEADLINE}
    log = slow_reward.with_name("serve.log")
    with LocalServer(slow_reward, workers=2, options=options, log_path=log) as server:
        yield server
