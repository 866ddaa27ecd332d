"""Malformed requests get a 4xx with one JSON message naming the problem, never a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.serve.conftest import MAX_BODY

OK_BODY = {"query": ["Q \\boxed{1}"], "prompts": ["Q"], "labels": ["1"]}

CASES = [
    # (endpoint, raw body, status, words the message must contain)
    ("/get_reward", b'{"query": "Q 1", "prompts": ["Q"]}', 422, ["query:", "list of strings"]),
    ("/get_reward", b'{"query": ["Q", 7], "prompts": ["Q", "Q"]}', 422, ["query[1]", "number"]),
    ("/get_reward", b'{"prompts": ["Q"]}', 422, ["query: missing", "list of strings"]),
    ("/get_reward", b'{"query": ["Q"]}', 422, ["prompts: missing"]),
    ("/get_reward", b'{"query": ["a", "b"], "prompts": ["a"]}', 422, ["prompts", "query has 2"]),
    (
        "/get_reward",
        b'{"query": ["a"], "prompts": ["a"], "labels": ["1", "2"]}',
        422,
        ["labels", "query has 1"],
    ),
    ("/get_reward", b"[]", 422, ["body: expected an object, got a list"]),
    ("/get_reward", b"null", 422, ["body: expected an object, got null"]),
    ("/get_reward", b'{"query": ["Q"', 400, ["not valid JSON"]),
    ("/get_reward", b"", 400, ["not valid JSON"]),
    ("/get_reward", b'{"query": ["\xff\xfe"], "prompts": ["Q"]}', 400, ["not valid UTF-8", "0xff"]),
    ("/get_reward", b"[" * 5000 + b"]" * 5000, 400, ["not valid JSON"]),
    ("/v1/score", b'{"samples": {"completion": "x"}}', 422, ["samples: expected a list"]),
    ("/v1/score", b'{"samples": [{"prompt": "p"}]}', 422, ["samples[0].completion: missing"]),
    ("/v1/score", b'{"samples": [{"completion": 3}]}', 422, ["samples[0].completion", "string"]),
    (
        "/v1/score",
        b'{"samples": [{"completion": "x", "logprobs": ["0.5"]}]}',
        422,
        ["samples[0].logprobs[0]", "a number, got a string"],
    ),
    (
        "/v1/score",
        b'{"samples": [{"completion": "x", "prompt": [{"role": "user"}]}]}',
        422,
        ["samples[0].prompt[0].content: missing"],
    ),
    ("/v1/score", b"{}", 422, ["samples: missing"]),
]


def assert_error(response: httpx.Response, status: int, words: list[str]) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"] and isinstance(body["error"], str)
    for word in words:
        assert word in body["error"]


@pytest.mark.parametrize(("path", "raw", "status", "words"), CASES)
def test_malformed_body_is_a_clear_4xx(api: httpx.Client, path, raw, status, words):
    response = api.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert_error(response, status, words)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
@pytest.mark.parametrize("path", ["/get_reward", "/v1/score"])
def test_body_not_sent_as_json_is_415(api: httpx.Client, path: str, content_type: str | None):
    # what a browser may send cross-origin without asking first; JSON it must ask for
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = api.post(path, content=json.dumps(OK_BODY).encode(), headers=headers)
    expected = ["Content-Type must be application/json", content_type or "it has none"]
    assert_error(response, 415, expected)


def test_json_content_type_may_name_its_charset(api: httpx.Client):
    headers = {"Content-Type": "Application/JSON; charset=utf-8"}
    response = api.post("/get_reward", content=json.dumps(OK_BODY).encode(), headers=headers)
    assert response.status_code == 200 and response.json()["rewards"] == [1.0], response.text


def test_huge_body_with_content_length_is_413(api: httpx.Client):
    body = json.dumps({"query": ["x" * MAX_BODY], "prompts": ["x"]}).encode()
    assert_error(api.post("/get_reward", content=body), 413, ["body", f"{MAX_BODY} bytes"])


def test_huge_chunked_body_is_cut_off_with_413(api: httpx.Client):
    def chunks() -> Iterator[bytes]:
        yield b'{"query": ["'
        for _ in range(2 * MAX_BODY // 65536):
            yield b"x" * 65536
        yield b'"], "prompts": ["x"]}'

    response = api.post("/v1/score", content=chunks())
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_error(response, 413, ["larger than the server's limit"])


def test_unknown_paths_and_methods_are_json_errors(api: httpx.Client):
    assert_error(api.get("/nowhere"), 404, ["/nowhere"])
    assert_error(api.get("/get_reward"), 405, ["GET"])


def test_server_is_still_healthy_after_bad_input(api: httpx.Client):
    for path, raw, _, _ in CASES:
        api.post(path, content=raw)
    assert api.get("/healthz").status_code == 200
    response = api.post("/get_reward", json=OK_BODY)
    assert response.status_code == 200 and response.json()["rewards"] == [1.0]
    metrics = api.get("/metrics").text
    assert 'code="500"' not in metrics
