"""A served reward model as a reward component, offline: starts `rewardsmith serve`
(here serving `answered`, 1 when a response gives one final answer) as the reward-model
server, and scores rollouts through it with `reward_model` speaking the OpenRLHF
`/get_reward` protocol, as OpenRLHF's trainer does with `--remote_rm_url`.

    python examples/reward_model/remote_rm.py
"""

from __future__ import annotations

from rewardsmith import Reward
from rewardsmith.serve.local import LocalServer

ROLLOUTS = ["The total is \\boxed{42}.", "It is 42 or 24.", "I am not sure."]


def main() -> None:
    with LocalServer("answered", workers=1) as server:
        spec = {"type": "reward_model", "url": f"{server.url}/get_reward", "protocol": "openrlhf"}
        with Reward.from_spec(spec) as reward:
            scores = reward.score(
                [{"prompt": "6 * 7 = ?", "completion": text, "group_id": "q"} for text in ROLLOUTS]
            )
    for text, score in zip(ROLLOUTS, scores, strict=True):
        print(f"{text!r:32} {score.value}")


if __name__ == "__main__":
    main()
