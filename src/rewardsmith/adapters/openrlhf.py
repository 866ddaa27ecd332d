"""OpenRLHF: rewards for `--remote_rm_url`, over HTTP or as a `reward_func` Python file.

Convention followed (OpenRLHF 0.8-0.9, `openrlhf/utils/remote_rm_utils.py`,
`openrlhf/trainer/ppo_utils/experience_maker.py` and `examples/python/reward_func.py` in
github.com/OpenRLHF/OpenRLHF): the trainer decodes each sequence with
`skip_special_tokens=False` and sends `query` (prompt + response, special tokens kept),
`prompts` (the prompt as in the dataset, chat template applied when
`--apply_chat_template` is set) and `labels` (the `--label_key` column's raw values: any
JSON value, e.g. `4` for an integer answer column; each becomes the sample's `reference`,
and a verifier that cannot use it gives that sample status `invalid`). Over HTTP the
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
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from rewardsmith.adapters import (
    Item,
    Unscorable,
    ascore_items,
    extra_values,
    score_items,
    with_step,
)
from rewardsmith.adapters.gather import Gatherer
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
_ENDS = "|".join(map(re.escape, END_TOKENS))
_HEADERS = "|".join(map(re.escape, ASSISTANT_HEADERS))
_SKIPPED = re.compile(f"(?:\\s|{_ENDS})++")  # a run of whitespace and end tokens
_SKIP_STEP = re.compile(f"\\s|{_ENDS}")
_HEADER_AT = re.compile(f"(?=(?:{_HEADERS}))")  # every start of an assistant header
_LEADING = re.compile(f"\\s*+(?:{_ENDS}|{_HEADERS})")
_SPECIAL_BODY = re.compile(r"[^<>|\s]*+")  # between <| and |> of a special token


def split_query(query: str, prompt: str) -> str:
    """The response part of an OpenRLHF `query` (prompt + response decoded with special
    tokens kept).

    The response starts after the prompt: right after it when the query starts with it;
    otherwise after the last occurrence of the prompt that a chat template's assistant
    header follows (so a prompt wrapped in a template is found, and a response that
    restates the question is not cut), else after the first occurrence. Leading
    end-of-turn tokens and assistant headers and trailing end tokens (`END_TOKENS`, and
    any `<|...|>` at the very end) are removed. Raises ValueError naming `query` when the
    prompt does not occur in it. Linear time in the query's length (a response repeating
    special tokens thousands of times costs no more than reading it).
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
    begin = _past_leading(query, start)
    return query[begin : _before_trailing(query, begin)]


def _response_start(query: str, prompt: str) -> int | None:
    """Where the response starts: see `split_query`.

    "A header follows" means whitespace and end tokens, then an assistant header. Rather
    than reading ahead from every occurrence of the prompt, each header is taken with the
    run of whitespace and end tokens before it, and the occurrences ending in that run are
    looked up; the runs of different headers do not overlap, so the whole is one pass.
    """
    if query.startswith(prompt):
        return len(prompt)
    first = query.find(prompt)
    if first == -1:
        return None
    headers = [match.start() for match in _HEADER_AT.finditer(query)]
    if not headers:
        return first + len(prompt)
    ends = []
    found = first
    while found != -1:
        ends.append(found + len(prompt))
        found = query.find(prompt, found + 1)
    run_starts = {run.end(): run.start() for run in _SKIPPED.finditer(query)}
    for header in reversed(headers):
        run_start = run_starts.get(header, header)
        index = bisect_right(ends, header) - 1
        while index >= 0 and ends[index] >= run_start:
            end = ends[index]
            # inside the run, a reading from `end` reaches the header iff `end` does not
            # fall inside an end token (no end token holds `<` or whitespace after its start)
            if end == header or _SKIP_STEP.match(query, end):
                return end
            index -= 1
    return first + len(prompt)


def _past_leading(text: str, position: int) -> int:
    """`position` moved past leading end tokens and assistant headers (and whitespace
    between them; whitespace before text that is neither stays)."""
    while step := _LEADING.match(text, position):
        position = step.end()
    return position


def _before_trailing(text: str, begin: int) -> int:
    """Where `text[begin:]` ends once trailing end tokens and any `<|...|>` at the very end
    are removed, with the whitespace before each (whitespace after the last one stays)."""
    end = len(text)
    while True:
        cut = end
        while cut > begin and text[cut - 1].isspace():
            cut -= 1
        if text.endswith(END_TOKENS, begin, cut):
            end = cut - len(next(t for t in END_TOKENS if text.endswith(t, begin, cut)))
            continue
        opening = text.rfind("<|", begin, cut - 2) if text.endswith("|>", begin, cut) else -1
        if opening == -1 or not _SPECIAL_BODY.fullmatch(text, opening + 2, cut - 2):
            return end
        end = opening


def score_openrlhf(
    reward: Reward, queries: list[str], prompts: list[str], labels: Sequence[Any] | None
) -> dict[str, Any]:
    """{"rewards": [float], "scores": [float], "extra_logs": {name: [float]}} for one
    OpenRLHF batch, scored in one call (samples grouped by prompt).

    `scores` equal `rewards`; `extra_logs` has every named part of the reward and
    `status_ok`. Raises ValueError when the lists differ in length.
    """
    return _answer(reward, score_items(reward, _items(queries, prompts, labels)))


async def ascore_openrlhf(
    reward: Reward, queries: list[str], prompts: list[str], labels: Sequence[Any] | None
) -> dict[str, Any]:
    """`score_openrlhf` for asyncio callers (uses `Reward.ascore`)."""
    answer, _ = await ascore_openrlhf_with_scores(reward, queries, prompts, labels)
    return answer


async def ascore_openrlhf_with_scores(
    reward: Reward,
    queries: list[str],
    prompts: list[str],
    labels: Sequence[Any] | None,
    *,
    step: int | None = None,
    gatherer: Gatherer | None = None,
) -> tuple[dict[str, Any], list[Score]]:
    """`ascore_openrlhf`'s answer, and the Score behind each sample: its status says why a
    sample was not scored, which the answer (only `status_ok`) cannot. `step` becomes each
    sample's `meta.step`; with `gatherer`, each sample is scored within its gathered group
    (OpenRLHF 0.9.1+ sends one query per request)."""
    items = with_step(_items(queries, prompts, labels), step)
    scores = await ascore_items(reward, items, gatherer)
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
