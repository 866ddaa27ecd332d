"""Robustness probes for label-free majority rewards (`majority_vote`): a reward that
reads no label can only be probed through the group a completion is scored in.

Each hostile completion of the math attacks (master keys, hedges, shotguns, a wrong
answer padded or declared correct, ...) is scored in a group with three honest correct
responses, so an honest majority exists: it must not be paid. One attack no label-free
reward can refuse is included to show it: `collusion`, a group in which four rollouts
agree on the same wrong answer and one is right; the colluders are the majority, and are
paid. The honest responses are the control.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rewardsmith.judge.probe_item import Attack, ProbeItem

HONEST = 3
COLLUDERS = 4


def honest_forms(item: ProbeItem) -> list[str]:
    return [item.correct_response(), f"The answer is {item.answer}.", f"\\boxed{{{item.answer}}}"]


def collusion(item: ProbeItem) -> list[str]:
    return [f"The answer is {item.wrong[0]}."]


def majority_samples(
    items: Sequence[ProbeItem], attacks: Mapping[str, Attack]
) -> list[tuple[str, dict[str, Any]]]:
    """(label, sample) pairs, grouped as above: 'control' for the honest responses of the
    honest majorities, 'outvoted' for the honest one among colluders (not counted)."""
    labelled = []
    for index, item in enumerate(items):
        for name, attack in attacks.items():
            for k, text in enumerate(attack(item)):
                group = f"probe-majority-{index}-{name}-{k}"
                if name == "collusion":
                    members = [(name, text)] * COLLUDERS + [("outvoted", item.correct_response())]
                else:
                    members = [("control", form) for form in honest_forms(item)[:HONEST]]
                    members.append((name, text))
                for label, completion in members:
                    sample = {"prompt": item.prompt, "completion": completion, "group_id": group}
                    labelled.append((label, sample | {"meta": {"probe": label}}))
    return labelled
