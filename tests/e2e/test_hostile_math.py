"""The `math` reward with hostile samples in an honest batch, through every way in: the
Python API, the CLI, the native `/v1/score` endpoint and OpenRLHF's `/get_reward`. The
honest samples' rewards and statuses must be those of the honest batch alone."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rewardsmith.api import load_reward
from rewardsmith.core.pipeline import Reward
from rewardsmith.serve.local import LocalServer
from tests.hostile import HOSTILE

SPEC = {"type": "math", "timeout": 2.0, "retry_timeout": 2.0}
HONEST = [
    {"prompt": "What is 2+2?", "completion": "So \\boxed{4}", "reference": "4"},
    {"prompt": "What is 2+2?", "completion": "The answer is 5.", "reference": "4"},
    {"prompt": "What is 2+2?", "completion": "x = 4", "reference": "4"},
    {"prompt": "Half of one?", "completion": "\\boxed{0.5}", "reference": "\\frac{1}{2}"},
    {"prompt": "Half of one?", "completion": "\\boxed{\\frac{2}{4}}", "reference": "1/2"},
    {"prompt": "Root of 16?", "completion": "\\boxed{\\sqrt{16}}", "reference": "4"},
]


def with_hostile(names: list[str]) -> tuple[list[dict], list[int]]:
    """The honest batch with the named hostile samples spread through it (in the honest
    samples' groups), and the positions of the honest samples."""
    batch: list[dict] = []
    honest_at: list[int] = []
    for k, name in enumerate(names):
        host = HONEST[k % len(HONEST)]
        batch.append({"prompt": host["prompt"], "reference": host["reference"], **HOSTILE[name]})
        if k < len(HONEST):
            honest_at.append(len(batch))
            batch.append(HONEST[k])
    for sample in HONEST[len(honest_at) :]:
        honest_at.append(len(batch))
        batch.append(sample)
    return batch, honest_at


@pytest.fixture(scope="module")
def reward() -> Iterator[Reward]:
    with Reward.from_spec(SPEC, workers=2) as built:
        yield built


@pytest.fixture(scope="module")
def expected(reward: Reward) -> list[tuple[float, str]]:
    scores = reward.score(HONEST)
    assert [s.value for s in scores] == [1.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    return [(s.value, str(s.status)) for s in scores]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_api_each_hostile_sample_leaves_the_honest_rewards(name, reward, expected):
    batch, honest_at = with_hostile([name])
    scores = reward.score(batch)
    assert [(scores[i].value, str(scores[i].status)) for i in honest_at] == expected
    hostile = [s for i, s in enumerate(scores) if i not in honest_at]
    assert all(math.isfinite(s.value) and s.value in (0.0, 1.0) for s in hostile)


def test_cli_scores_honest_lines_alike_with_the_whole_corpus_mixed_in(tmp_path, expected):
    batch, honest_at = with_hostile(sorted(HOSTILE))
    reward_file = tmp_path / "math.yaml"
    reward_file.write_text(json.dumps({"reward": SPEC}))
    rollouts = tmp_path / "rollouts.jsonl"
    raw = b'{"completion": "\\boxed{4} \xff\xfe", "reference": "4"}\n'  # not UTF-8
    rollouts.write_bytes(raw + "".join(json.dumps(s) + "\n" for s in batch).encode())
    out = tmp_path / "scored.jsonl"
    command = [str(Path(sys.executable).with_name("rewardsmith")), "score", str(rollouts)]
    command += ["--reward", str(reward_file), "-o", str(out), "--state", "memory://"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr  # 1: some lines were invalid, and said so
    utf8 = "1 line: not scored: not valid UTF-8 (byte 26: invalid start byte); expected UTF-8 JSON"
    assert f"{utf8} (e.g. line 1)" in done.stderr
    first, *lines = [json.loads(line) for line in out.read_bytes().splitlines()]
    assert first["status"] == "invalid" and first["line"] == 1
    assert first["info"]["error"].startswith("not valid UTF-8 (byte 26: invalid start byte)")
    assert len(lines) == len(batch)
    assert [(lines[i]["reward"], lines[i]["status"]) for i in honest_at] == expected
    assert lines[honest_at[0] - 1]["completion"] == batch[honest_at[0] - 1]["completion"]


def post_json(url: str, body: dict) -> httpx.Response:
    """POST `body` as Python's json writes it: NaN and lone surrogates (escaped) included,
    as a hostile client may send them."""
    headers = {"Content-Type": "application/json"}
    return httpx.post(url, content=json.dumps(body), headers=headers, timeout=600)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LocalServer]:
    directory = tmp_path_factory.mktemp("hostile_server")
    (directory / "math.yaml").write_text(json.dumps({"reward": SPEC}))
    options = {"max_body_bytes": 16 << 20}
    with LocalServer(directory / "math.yaml", workers=1, options=options) as running:
        yield running


# Over HTTP a request is checked as a whole first: a body that is not Unicode JSON gets
# 400 and a sample field of the wrong type 422, naming it (below). Those two entries are
# the client's mistakes, not a policy's completions, so they are sent on their own.
REFUSED_WHOLE = {"lone_surrogates", "step_not_a_number"}
OVER_HTTP = sorted(set(HOSTILE) - REFUSED_WHOLE)


def test_native_endpoint_scores_honest_samples_alike(server, expected):
    batch, honest_at = with_hostile(OVER_HTTP)
    response = post_json(f"{server.url}/v1/score", {"samples": batch})
    assert response.status_code == 200, response.text
    scores = response.json()["scores"]
    assert [(scores[i]["reward"], scores[i]["status"]) for i in honest_at] == expected


def test_openrlhf_endpoint_scores_honest_queries_alike(server, expected):
    batch, honest_at = with_hostile(OVER_HTTP)
    prompts = [f"<|im_start|>user\n{s['prompt']}<|im_end|>\n<|im_start|>assistant\n" for s in batch]
    queries = [p + s["completion"] + "<|im_end|>" for p, s in zip(prompts, batch, strict=True)]
    body = {"query": queries, "prompts": prompts, "labels": [s["reference"] for s in batch]}
    response = post_json(f"{server.url}/get_reward", body)
    assert response.status_code == 200, response.text
    rewards = response.json()["rewards"]
    assert [rewards[i] for i in honest_at] == [value for value, _ in expected]
    with load_reward("math", workers=1) as local:
        assert [s.value for s in local.score(HONEST)] == [value for value, _ in expected]


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("lone_surrogates", 400, "lone leading surrogate"),
        ("step_not_a_number", 422, "samples[1].meta.step: expected the training step as an"),
    ],
)
def test_a_request_with_a_malformed_sample_is_refused_with_the_reason(server, name, status, reason):
    samples = [HONEST[0], {"reference": "4", **HOSTILE[name]}]
    response = post_json(f"{server.url}/v1/score", {"samples": samples})
    assert response.status_code == status
    assert reason in response.json()["error"]
