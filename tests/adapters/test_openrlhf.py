"""The OpenRLHF adapter: queries decoded with special tokens kept, as OpenRLHF sends them."""

from __future__ import annotations

import asyncio
import importlib.util
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardsmith.adapters.openrlhf_reward_func as reward_func_file
from rewardsmith.adapters.openrlhf import (
    ASSISTANT_HEADERS,
    END_TOKENS,
    ascore_openrlhf,
    ascore_openrlhf_with_scores,
    score_openrlhf,
    split_query,
)
from rewardsmith.core.pipeline import Reward
from tests.adapters.conftest import PIPELINE, PIPELINE_COMPONENTS, qwen_prompt
from tests.linear_time import ADVERSARIAL_SIZE, assert_linear

torch = pytest.importorskip("torch")

LLAMA3 = (
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{q}<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)
QUESTION = "What is 6 times 7?"
ANSWER = "Six sevens. What is 6 times 7? It is \\boxed{42}."  # restates the question


@pytest.mark.parametrize(
    ("query", "prompt"),
    [
        # the templated prompt, as with --apply_chat_template: the query starts with it
        (qwen_prompt(QUESTION) + ANSWER + "<|im_end|>", qwen_prompt(QUESTION)),
        # the raw question inside the template; the response restates it
        (qwen_prompt(QUESTION) + ANSWER + "<|im_end|>\n<|endoftext|>", QUESTION),
        # a BOS token the tokenizer added in front of the templated prompt
        (
            "<|begin_of_text|>" + LLAMA3.format(q=QUESTION) + ANSWER + "<|eot_id|>",
            LLAMA3.format(q=QUESTION),
        ),
        (LLAMA3.format(q=QUESTION) + ANSWER + "<|eot_id|>", QUESTION),
        (
            "<｜begin▁of▁sentence｜><｜User｜>"
            + QUESTION
            + "<｜Assistant｜>"
            + ANSWER
            + "<｜end▁of▁sentence｜>",
            QUESTION,
        ),
        ("[INST] " + QUESTION + " [/INST]" + ANSWER + "</s>", "[INST] " + QUESTION + " [/INST]"),
        # an end token this module does not list: any <|...|> at the very end goes
        (QUESTION + ANSWER + "<|custom_end|>", QUESTION),
    ],
    ids=["qwen-templated", "qwen-raw", "llama3-bos", "llama3-raw", "deepseek", "mistral", "other"],
)
def test_split_query_finds_the_response(query, prompt):
    assert split_query(query, prompt) == ANSWER


def test_split_query_keeps_the_response_text_as_is():
    query = qwen_prompt("q") + "  <think>\nx\n</think>\n\n\\boxed{1}\n<|im_end|>"
    assert split_query(query, qwen_prompt("q")) == "  <think>\nx\n</think>\n\n\\boxed{1}\n"
    assert split_query(qwen_prompt("q") + "<|im_end|>", "q") == ""
    with pytest.raises(ValueError, match=r"^query: does not contain its prompt"):
        split_query(qwen_prompt("q") + "1", "another question")


def reference_split(query: str, prompt: str) -> str:
    """What split_query's docstring says, read literally (the quadratic implementation it
    replaced): read ahead from every occurrence, strip by copying."""
    header_ahead = re.compile(
        f"(?:\\s|{'|'.join(map(re.escape, END_TOKENS))})*"
        f"(?:{'|'.join(map(re.escape, ASSISTANT_HEADERS))})"
    )
    starts = [i for i in range(len(query) - len(prompt) + 1) if query.startswith(prompt, i)]
    if not starts:
        raise ValueError("query: does not contain its prompt")
    ahead = [i for i in starts if header_ahead.match(query, i + len(prompt))]
    start = 0 if query.startswith(prompt) else (ahead or starts[:1])[-1]
    text = query[start + len(prompt) :]
    while marker := next(
        (m for m in END_TOKENS + ASSISTANT_HEADERS if text.lstrip().startswith(m)), None
    ):
        text = text.lstrip()[len(marker) :]
    while True:
        rest = text.rstrip()
        token = next((t for t in END_TOKENS if rest.endswith(t)), None)
        special = re.search(r"<\|[^<>|\s]*\|>\Z", rest)
        if token is None and special is None:
            return text
        text = rest[: -len(token)] if token else rest[: special.start()]


PIECES = [*END_TOKENS, *ASSISTANT_HEADERS, "Q", "q", " ", "\n", "<|", "|>", "<|x|>", "<", "|"]
queries = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


@given(queries, st.data())
def test_split_query_does_what_its_docstring_says(query, data):
    prompt = data.draw(
        st.one_of(
            st.lists(st.sampled_from(PIECES), max_size=3).map("".join),
            st.tuples(st.integers(0, len(query)), st.integers(0, len(query))).map(
                lambda ij: query[min(ij) : max(ij)]
            ),
        )
    )
    try:
        expected = reference_split(query, prompt)
    except ValueError:
        with pytest.raises(ValueError, match="does not contain its prompt"):
            split_query(query, prompt)
    else:
        assert split_query(query, prompt) == expected


def test_special_tokens_have_the_shape_the_linear_scan_relies_on():
    for token in END_TOKENS:  # no token starts inside another, or holds whitespace
        assert "<" not in token[1:] and not any(char.isspace() for char in token)
    for token in END_TOKENS:  # a header never starts where an end token does
        assert not any(h.startswith(token) or token.startswith(h) for h in ASSISTANT_HEADERS)


def hostile(unit: str, head: str = QUESTION, tail: str = "") -> str:
    return head + unit * (ADVERSARIAL_SIZE // len(unit)) + tail


@pytest.mark.parametrize(
    ("query", "prompt"),
    [
        (hostile("<|im_start|>"), QUESTION),  # a special token at the end, thousands of times
        (hostile("<|im_end|>", tail="x"), QUESTION),  # end tokens leading the response
        (hostile("<|im_start|>assistant\n", tail="x"), QUESTION),
        (hostile("<|a|> \n"), QUESTION),
        (hostile(" ", head="x"), " "),  # every occurrence of the prompt reads ahead to the end
        (hostile(" ", head="x", tail="<|im_start|>assistant\n"), " "),
        (hostile("<|im_end|>", head="x", tail="<|im_start|>assistant\n"), "<|im_end|>"),
        (hostile(QUESTION + "<|im_end|>\n", head="x", tail="<|im_start|>assistant\n"), QUESTION),
        (hostile("a", head="x" + QUESTION, tail="<|im_start|>assistant\n"), "a"),
    ],
    ids=[
        "trailing-specials",
        "leading-end-tokens",
        "leading-headers",
        "specials-and-spaces",
        "space-prompt",
        "space-prompt-header",
        "end-token-prompt",
        "restated-prompt",
        "dense-prompt",
    ],
)
def test_split_query_is_linear(query, prompt):
    def split(text: str) -> str:
        return split_query(text, prompt)

    assert_linear(split, query)


@pytest.fixture(scope="module")
def pipeline():
    with Reward.load(PIPELINE, workers=1) as reward:
        yield reward


def openrlhf_batch(rows: list[dict], templated: bool) -> tuple[list, list, list]:
    """queries, prompts, labels as OpenRLHF's experience maker gathers them."""
    prompts = [qwen_prompt(row["prompt"]) if templated else row["prompt"] for row in rows]
    queries = [qwen_prompt(row["prompt"]) + row["completion"] + "<|im_end|>" for row in rows]
    return queries, prompts, [row["reference"] for row in rows]


@pytest.mark.parametrize("templated", [True, False], ids=["templated", "raw"])
def test_score_openrlhf_on_the_bundled_batch(pipeline, rows, templated):
    answer = score_openrlhf(pipeline, *openrlhf_batch(rows, templated))
    assert set(answer) == {"rewards", "scores", "extra_logs"}
    assert answer["scores"] == answer["rewards"] and len(answer["rewards"]) == len(rows)
    logs = answer["extra_logs"]
    assert logs["correct"] == [float(row["label"]) for row in rows]
    assert logs["status_ok"] == [1.0] * len(rows)
    assert all(len(values) == len(rows) for values in logs.values())
    assert asyncio.run(ascore_openrlhf(pipeline, *openrlhf_batch(rows, templated))) == answer


def test_unsplittable_queries_get_the_fallback_and_status_ok_zero():
    batch = (
        [qwen_prompt("1+1?") + "\\boxed{2}<|im_end|>", "no prompt here \\boxed{2}"],
        ["1+1?", "1+1?"],
        ["2", "2"],
    )
    with Reward.from_spec({"type": "math", "fallback": -1.0}) as reward:
        answer = score_openrlhf(reward, *batch)
        assert answer["rewards"] == [1.0, -1.0]
        assert answer["extra_logs"] == {"status_ok": [1.0, 0.0]}
        # the Scores behind the answer say why a sample was not scored
        same, scores = asyncio.run(ascore_openrlhf_with_scores(reward, *batch))
        assert same == answer
        assert [str(score.status) for score in scores] == ["ok", "invalid"]
        assert "does not contain its prompt" in scores[1].info["error"]
        with pytest.raises(ValueError, match="expected one per sample, got 2 queries, 1 prompts"):
            score_openrlhf(reward, ["a", "b"], ["a"], None)


def test_reward_func_file_as_openrlhf_loads_and_calls_it(monkeypatch, rows):
    monkeypatch.setenv("REWARDSMITH_REWARD", str(PIPELINE))
    monkeypatch.setenv("REWARDSMITH_WORKERS", "1")
    spec = importlib.util.spec_from_file_location("reward_func", reward_func_file.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    queries, prompts, labels = openrlhf_batch(rows, templated=True)
    # chunks of micro_rollout_batch_size, positional arguments, as RemoteRewardModel calls it
    infos = [
        module.reward_func(queries[i : i + 16], prompts[i : i + 16], labels[i : i + 16])
        for i in range(0, len(rows), 16)
    ]
    # update_samples_with_rewards: every chunk's tensors joined with torch.cat
    rewards = torch.cat([info["rewards"] for info in infos])
    scores = torch.cat([info["scores"] for info in infos])
    logs = {
        key: torch.cat([info["extra_logs"][key] for info in infos])
        for key in infos[0]["extra_logs"]
    }
    assert rewards.dtype == torch.float32 and torch.equal(rewards, scores)
    assert logs["correct"].tolist() == [float(row["label"]) for row in rows]
    assert list(logs) == [*PIPELINE_COMPONENTS, "status_ok"]
    module.REWARD.close()
