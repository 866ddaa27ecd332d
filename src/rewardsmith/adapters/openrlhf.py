"""OpenRLHF: rewards for `--remote_rm_url`, over HTTP or as a `reward_func` Python file.

Convention followed (OpenRLHF 0.8-0.9, `openrlhf/utils/remote_rm_utils.py`,
`openrlhf/trainer/ppo_utils/experience_maker.py` and `examples/python/reward_func.py` in
github.com/OpenRLHF/OpenRLHF): the trainer decodes each sequence with
`skip_special_tokens=False` and sends `query` (prompt + response, special tokens kept),
`prompts` (the prompt as in the dataset, chat template applied when
`--apply_chat_template` is set) and `labels` (the `--label_key` column). Over HTTP the
body is `{"query": [...], "prompts": [...], "labels": [...]}`; a `reward_func` file is
called as `reward_func(queries, prompts, labels, **kwargs)`, from a Ray task, on chunks
of `micro_rollout_batch_size` samples. Both answer `{"rewards", "scores", "extra_logs"}`:
`rewards` train (advantages), `scores` drive `--dynamic_filtering` (groups whose mean
score is outside `--dynamic_filtering_reward_range` are dropped), and `extra_logs`
values are logged per sample. Every value must be a float: the keys of `extra_logs` are
concatenated across chunks, so they are the same for every sample and batch here.

A sample that cannot be scored (status invalid, error, timeout) gets its component's
fallback reward and `extra_logs["status_ok"] = 0.0`, so infrastructure failures can be
told apart from wrong answers in the logs.

`rewardsmith serve` answers `/get_reward` with `ascore_openrlhf_with_scores` (the Scores
feed its per-status metrics); `openrlhf_reward_func.py` next to this module is the file to
point OpenRLHF at.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rewardsmith.adapters import Item, Unscorable, ascore_items, extra_values, score_items
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Score

# Tokens that end a turn or a sequence, as decoded with special tokens kept: ChatML (Qwen),
# GPT-2/Qwen EOS, Llama 2 / Mistral, Llama 3, DeepSeek-V3/R1, Phi-3, Gemma, gpt-oss.
END_TOKENS = (
    "<|im_end|>",
    "<|endoftext|>",
    "</s>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end_of_text|>",
    "<｜end▁of▁sentence｜>",
    "<|end|>",
    "<end_of_turn>",
    "<eos>",
    "<|return|>",
)
# What a chat template puts before the assistant's reply, in the same families.
ASSISTANT_HEADERS = (
    "<|im_start|>assistant\n",
    "<|start_header_id|>assistant<|end_header_id|>\n\n",
    "<｜Assistant｜>",
    "<|assistant|>\n",
    "<start_of_turn>model\n",
    "<|start|>assistant",
)
_TRAILING_SPECIAL = re.compile(r"<\|[^<>|\s]*\|>\Z")  # any other <|...|> at the very end
_HEADER_AHEAD = re.compile(
    "(?:\\s|{ends})*(?:{headers})".format(
        ends="|".join(map(re.escape, END_TOKENS)),
        headers="|".join(map(re.escape, ASSISTANT_HEADERS)),
    )
)


def split_query(query: str, prompt: str) -> str:
    """The response part of an OpenRLHF `query` (prompt + response decoded with special
    tokens kept).

    The response starts after the prompt: right after it when the query starts with it;
    otherwise after the last occurrence of the prompt that a chat template's assistant
    header follows (so a prompt wrapped in a template is found, and a response that
    restates the question is not cut), else after the first occurrence. Leading
    end-of-turn tokens and assistant headers and trailing end tokens (`END_TOKENS`, and
    any `<|...|>` at the very end) are removed. Raises ValueError naming `query` when the
    prompt does not occur in it.
    """
    if not isinstance(query, str) or not isinstance(prompt, str):
        raise ValueError(
            f"query: expected the query and its prompt as strings, "
            f"got {type(query).__name__} and {type(prompt).__name__}"
        )
    start = _response_start(query, prompt)
    if start is None:
        raise ValueError(
            "query: does not contain its prompt, so the response cannot be told apart "
            "(expected the prompt followed by the response)"
        )
    return _strip_trailing(_strip_leading(query[start:]))


def _response_start(query: str, prompt: str) -> int | None:
    if query.startswith(prompt):
        return len(prompt)
    starts = []
    found = query.find(prompt)
    while found != -1:
        starts.append(found)
        found = query.find(prompt, found + 1)
    if not starts:
        return None
    for start in reversed(starts):
        if _HEADER_AHEAD.match(query, start + len(prompt)):
            return start + len(prompt)
    return starts[0] + len(prompt)


def _strip_leading(text: str) -> str:
    markers = END_TOKENS + ASSISTANT_HEADERS
    while True:
        rest = text.lstrip()
        marker = next((m for m in markers if rest.startswith(m)), None)
        if marker is None:
            return text
        text = rest[len(marker) :]


def _strip_trailing(text: str) -> str:
    while True:
        rest = text.rstrip()
        token = next((t for t in END_TOKENS if rest.endswith(t)), None)
        if token is not None:
            text = rest[: -len(token)]
            continue
        generic = _TRAILING_SPECIAL.search(rest)
        if generic is None:
            return text
        text = rest[: generic.start()]


def score_openrlhf(
    reward: Reward, queries: list[str], prompts: list[str], labels: list[str] | None
) -> dict[str, Any]:
    """{"rewards": [float], "scores": [float], "extra_logs": {name: [float]}} for one
    OpenRLHF batch, scored in one call (samples grouped by prompt).

    `scores` equal `rewards`; `extra_logs` has every named part of the reward and
    `status_ok`. Raises ValueError when the lists differ in length.
    """
    return _answer(reward, score_items(reward, _items(queries, prompts, labels)))


async def ascore_openrlhf(
    reward: Reward, queries: list[str], prompts: list[str], labels: list[str] | None
) -> dict[str, Any]:
    """`score_openrlhf` for asyncio callers (uses `Reward.ascore`)."""
    answer, _ = await ascore_openrlhf_with_scores(reward, queries, prompts, labels)
    return answer


async def ascore_openrlhf_with_scores(
    reward: Reward, queries: list[str], prompts: list[str], labels: list[str] | None
) -> tuple[dict[str, Any], list[Score]]:
    """`ascore_openrlhf`'s answer, and the Score behind each sample: its status says why a
    sample was not scored, which the answer (only `status_ok`) cannot."""
    scores = await ascore_items(reward, _items(queries, prompts, labels))
    return _answer(reward, scores), scores


def _items(
    queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any] | None
) -> list[Item]:
    if len(queries) != len(prompts) or (labels is not None and len(labels) != len(queries)):
        sizes = f"{len(queries)} queries, {len(prompts)} prompts"
        if labels is not None:
            sizes += f", {len(labels)} labels"
        raise ValueError(f"query, prompts, labels: expected one per sample, got {sizes}")
    items: list[Item] = []
    for i, (query, prompt) in enumerate(zip(queries, prompts, strict=True)):
        try:
            completion = split_query(query, prompt)
        except ValueError as exc:
            items.append(Unscorable(f"query[{i}]: {str(exc).removeprefix('query: ')}"))
            continue
        items.append(
            {
                "prompt": prompt,
                "completion": completion,
                "reference": None if labels is None else labels[i],
            }
        )
    return items


def _answer(reward: Reward, scores: list[Score]) -> dict[str, Any]:
    rewards = [score.value for score in scores]
    return {"rewards": rewards, "scores": list(rewards), "extra_logs": extra_values(reward, scores)}
