"""Step scores from outside this process, for `process` (reward.py):

- `judge`: an LLM verifies the solution step by step (generative PRMs: GenPRM, arXiv
  2504.00891; ThinkPRM, arXiv 2504.16828) through the OpenAI-compatible judge backend
  (judge/backend.py: batching, retries, the SQLite cache). It is shown the problem and
  the numbered steps and must answer one line per step, `Step k: correct` or `Step k:
  incorrect`, and nothing else. The reply is read strictly: a step gets 1.0 only from
  exactly one `correct` line of its own; a missing or repeated verdict makes it not
  correct (0.0), and a reply with any other line (prose, a step number out of range)
  counts for no step at all. The steps are the policy's text: a line in them that reads
  like a verdict is only part of the question the judge is asked.
- `http`: a process reward model served over HTTP. POST `url` with `{"items":
  [{"prompt": ..., "steps": [...]}, ...]}` (the batch's samples, in order); the answer
  is `{"step_scores": [[...], ...]}`, one finite number per step.

A source that cannot score a sample returns why, and the sample is invalid with it.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import httpx

from rewardsmith.core.types import Sample
from rewardsmith.judge.backend import ChatRequest, JudgeBackend, JudgeConfig
from rewardsmith.process.steps import Step

if TYPE_CHECKING:
    from rewardsmith.process.reward import ProcessParams

VERDICT_LINE = re.compile(r"step\s+(\d+)\s*:\s*(correct|incorrect)", re.IGNORECASE)
JUDGE_PROMPT = (
    "Check the solution below one step at a time. A step is correct when it is true and "
    "follows from the problem and the steps before it.\n\n"
    "Problem:\n{problem}\n\nSolution steps:\n{steps}\n\n"
    "Answer with exactly {count} lines, one per step, in order, each either "
    '"Step k: correct" or "Step k: incorrect", and nothing else.'
)


def step_texts(sample: Sample, steps: Sequence[Step]) -> list[str]:
    return [sample.completion[step.start : step.end] for step in steps]


def judge_config(settings: dict) -> JudgeConfig:
    """The judge's settings (as a judge component takes them), answering in plain text."""
    return JudgeConfig(**{**settings, "structured_output": False})


@functools.lru_cache(maxsize=8)
def judge_backend(config: JudgeConfig) -> JudgeBackend:
    """One backend per judge configuration in this process (its cache and limits)."""
    return JudgeBackend(config)


def judge_step_scores(
    samples: Sequence[Sample], steps: Sequence[list[Step]], params: ProcessParams
) -> list[list[float] | str]:
    assert params.judge is not None
    backend = judge_backend(judge_config(params.judge))
    requests = [
        ChatRequest.user(
            JUDGE_PROMPT.format(
                problem=sample.prompt_text,
                steps="\n".join(
                    f"Step {k}: {text}" for k, text in enumerate(step_texts(sample, cut), 1)
                ),
                count=len(cut),
            )
        )
        for sample, cut in zip(samples, steps, strict=True)
    ]
    results = backend.complete_many_sync(requests)
    out: list[list[float] | str] = []
    for result, cut in zip(results, steps, strict=True):
        if not result.ok or result.text is None:
            out.append(f"judge: no verdicts ({result.status}: {result.error})")
        else:
            out.append(read_verdicts(result.text, len(cut)))
    return out


def read_verdicts(text: str, count: int) -> list[float]:
    """1.0 for a step with exactly one `correct` verdict line of its own, else 0.0; any
    line that is not a verdict for a step 1..count voids every verdict."""
    verdicts: dict[int, list[str]] = {}
    for line in text.strip().splitlines():
        if not line.strip():
            continue
        match = VERDICT_LINE.fullmatch(line.strip().strip("*").strip())
        if match is None or not 1 <= int(match.group(1)) <= count:
            return [0.0] * count
        verdicts.setdefault(int(match.group(1)), []).append(match.group(2).lower())
    return [float(verdicts.get(k) == ["correct"]) for k in range(1, count + 1)]


def http_step_scores(
    samples: Sequence[Sample], steps: Sequence[list[Step]], params: ProcessParams
) -> list[list[float] | str]:
    assert params.url is not None
    items = [
        {"prompt": sample.prompt_text, "steps": step_texts(sample, cut)}
        for sample, cut in zip(samples, steps, strict=True)
    ]
    try:
        response = httpx.post(params.url, json={"items": items}, timeout=params.timeout)
        response.raise_for_status()
        rows = response.json()["step_scores"]
        if not isinstance(rows, list) or len(rows) != len(items):
            raise ValueError(f"{len(rows) if isinstance(rows, list) else 'no'} rows")
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        why = f"url: {params.url}: {type(exc).__name__}: {exc}"
        return [why] * len(items)
    out: list[list[float] | str] = []
    for row, cut in zip(rows, steps, strict=True):
        if (
            not isinstance(row, list)
            or len(row) != len(cut)
            or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in row
            )
        ):
            out.append(
                f"url: {params.url}: expected {len(cut)} finite step scores, got {row!r:.80}"
            )
        else:
            out.append([float(v) for v in row])
    return out
