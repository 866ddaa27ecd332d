"""The two scoring endpoints, over HTTP, against a real server process."""

from __future__ import annotations

import json

import httpx

from rewardsmith.api import load_reward
from rewardsmith.serve.local import LocalServer
from tests.serve.conftest import ROOT

QWEN_PROMPT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\n{question}\n"
    "Please reason step by step, and put your final answer within \\boxed{{}}.<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (ROOT / "examples" / name).read_text().splitlines()]


def test_openrlhf_protocol_rewards_real_math_rollouts(api: httpx.Client):
    data = rows("math_grpo.jsonl")
    prompts = [QWEN_PROMPT.format(question=row["prompt"]) for row in data]
    queries = [p + row["completion"] + "<|im_end|>" for p, row in zip(prompts, data, strict=True)]
    queries[-1] += "<|endoftext|>" * 3  # padding decoded with special tokens kept
    body = {"query": queries, "prompts": prompts, "labels": [row["reference"] for row in data]}

    response = api.post("/get_reward", json=body)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["rewards"] == [float(row["label"]) for row in data]
    assert answer["scores"] == answer["rewards"]
    assert answer["extra_logs"] == {"status_ok": [1.0] * len(data)}


def test_openrlhf_protocol_without_labels_flags_every_sample(api: httpx.Client):
    body = {"query": ["Q: 1+1? A: \\boxed{2}<|im_end|>"], "prompts": ["Q: 1+1?"]}
    answer = api.post("/get_reward", json=body).json()
    assert answer == {"rewards": [0.0], "scores": [0.0], "extra_logs": {"status_ok": [0.0]}}


def test_openrlhf_query_without_its_prompt_is_flagged_not_fatal(api: httpx.Client):
    body = {
        "query": ["something else entirely", "Q: 2+2? \\boxed{4}"],
        "prompts": ["Q: 1+1?", "Q: 2+2?"],
        "labels": ["2", "4"],
    }
    answer = api.post("/get_reward", json=body).json()
    assert answer["rewards"] == [0.0, 1.0]
    assert answer["extra_logs"]["status_ok"] == [0.0, 1.0]


def test_native_endpoint_returns_components_dense_rewards_and_info(pipeline_server: LocalServer):
    samples = rows("process/group.jsonl")
    samples.append({"prompt": "p", "completion": "Step 1: no answer"})  # no reference

    response = httpx.post(f"{pipeline_server.url}/v1/score", json={"samples": samples}, timeout=60)

    assert response.status_code == 200, response.text
    scores = response.json()["scores"]
    assert len(scores) == len(samples)
    with load_reward(pipeline_server.reward, workers=1) as reward:
        expected = reward.score(samples)
    for got, want in zip(scores, expected, strict=True):
        assert got["reward"] == want.value
        assert got["status"] == str(want.status)
        assert got["components"] == want.components
        assert set(got["components"]) == {"total", "steps", "correct", "marked"}
        if want.dense is not None:
            assert [(d["start"], d["end"], d["reward"]) for d in got["dense"]] == [
                (d.start, d.end, d.reward) for d in want.dense
            ]
    assert all(score["dense"] for score in scores[:-1])
    assert scores[-1]["status"] == "invalid"
    assert "reference" in scores[-1]["info"]["correct"]["error"]


def test_native_endpoint_accepts_an_empty_batch(api: httpx.Client):
    assert api.post("/v1/score", json={"samples": []}).json() == {"scores": []}
