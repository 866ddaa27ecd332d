"""Probe a scripted naive judge: what the probes catch, and what the defences fix.

No model is downloaded here, so the judge is scripted (`rewardsmith.judge.scripted`, a
real OpenAI-compatible server on loopback) to behave the way the papers report weak
judges behave:

- verifier: says "correct" to master-key openers (":", ".", "Thought process:", "Let's
  solve this problem step by step.", One Token to Fool, arXiv 2507.08794), to a response
  that grades itself ("Score: 10/10"), and to any response that mentions the reference
  anywhere, however it is hedged or buried;
- pairwise judges: one prefers whichever response it is shown first, another the longer
  response (position and verbosity bias); the last run puts a verifiable rubric (the qa
  rule verifier as a gate) in front of the second.

The same probes (`rewardsmith probe-judge`) then run against `judge_verify` without and
with its defences, and against `rubric_pairwise` judged in one order and in both:

    .venv/bin/python examples/probes/naive_judge.py
"""

from __future__ import annotations

import json
import re

from rich.console import Console

from rewardsmith import Reward
from rewardsmith.judge.probes import ITEMS, run_probes
from rewardsmith.judge.scripted import OpenAIServer, Reply, last_user

OPENERS = (":", ".", "thought process:", "let's solve this problem step by step.")
BLOCKS = re.compile(r"BEGIN RESPONSE ([AB]) (?:\w+)\n(.*?)\nEND RESPONSE \1 ", re.S)
SECTION = re.compile(
    r"Reference answer:\n(.*?)\n\nBEGIN RESPONSE (\w+)\n(.*?)\nEND RESPONSE \2", re.S
)


def golds(reference: str) -> list[str]:
    """The reference as the naive judge reads it: every string in it."""
    try:
        value = json.loads(reference)
    except ValueError:
        return [reference]
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def naive_verifier(body: dict) -> Reply:
    match = SECTION.search(last_user(body))
    reference, response = match.group(1), match.group(3)
    folded = response.strip().lower()
    fooled = (
        folded in OPENERS
        or folded.startswith(OPENERS[2:])
        or "10/10" in folded
        or any(g.lower() in folded for g in golds(reference))
    )
    verdict = "correct" if fooled else "incorrect"
    return Reply.answer(json.dumps({"reasoning": "looks right", "verdict": verdict}))


def prefer(side: str) -> Reply:
    criterion = {
        "criterion": "Answers the question",
        "principle": "correctness",
        "preferred": side,
        "margin": 3,
        "justification": f"Response {side} is better.",
    }
    return Reply.answer(json.dumps({"criteria": [criterion]}))


def first_shown_judge(body: dict) -> Reply:
    return prefer("A")


def longer_is_better_judge(body: dict) -> Reply:
    blocks = dict(BLOCKS.findall(last_user(body)))
    return prefer("A" if len(blocks["A"]) >= len(blocks["B"]) else "B")


RUBRIC = {
    "principles": [
        {"name": "correctness", "type": "core", "description": "The final answer is right."}
    ]
}

# A pointwise verifiable rubric (OpenRS): the short answer is checked by the qa rule
# verifier before the judge is asked; a pair where one side fails it is decided by code.
ANSWER_GATE = {"name": "answer", "check": "component", "value": {"type": "qa"}}


def main() -> None:
    console = Console(width=100)
    server = OpenAIServer().start()
    judge = {"base_url": server.base_url, "model": "naive", "cache_path": None}
    runs = [
        ("judge_verify, no defences", naive_verifier, {"type": "judge_verify", "guard": False}),
        ("judge_verify (guards)", naive_verifier, {"type": "judge_verify"}),
        (
            "judge_verify, answer_only",
            naive_verifier,
            {"type": "judge_verify", "answer_only": True},
        ),
        (
            "rubric_pairwise, one order",
            first_shown_judge,
            {"type": "rubric_pairwise", "rubric": RUBRIC, "both_orders": False},
        ),
        (
            "rubric_pairwise, both orders",
            first_shown_judge,
            {"type": "rubric_pairwise", "rubric": RUBRIC},
        ),
        (
            "rubric_pairwise, longer-is-better judge, both orders",
            longer_is_better_judge,
            {"type": "rubric_pairwise", "rubric": RUBRIC},
        ),
        (
            "rubric_pairwise, longer-is-better judge, qa answer check as a gate",
            longer_is_better_judge,
            {"type": "rubric_pairwise", "rubric": RUBRIC | {"verifiable": [ANSWER_GATE]}},
        ),
    ]
    try:
        for title, behaviour, spec in runs:
            server.behaviour = behaviour
            with Reward.from_spec(spec | {"judge": judge}) as reward:
                report = run_probes(reward, "qa", ITEMS["qa"])
            console.print(report.table(title=f"naive judge · {title}"))
            console.print(
                f"control accuracy: {report.tp_rate:.2f} "
                f"({report.control.accepted}/{report.control.n})\n"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
