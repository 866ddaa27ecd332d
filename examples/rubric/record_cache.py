"""Record judge_cache.sqlite: the judge answers this example replays offline.

The answers in judgements.yaml are served by a scripted OpenAI-compatible server on
loopback, and the reward in pipeline.yaml is run against it, so the cache holds exactly
the requests a real run makes (same prompts, model and sampling parameters). Run it
again after changing the prompt templates, the rubric or the responses:

    .venv/bin/python examples/rubric/record_cache.py [--out PATH]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from rewardsmith import Reward
from rewardsmith.judge.scripted import OpenAIServer, Reply, last_user

HERE = Path(__file__).resolve().parent


def answer_from(judgements: dict[str, list], completions: dict[str, str]):
    """The scripted judge: find which responses are shown as A and B, answer from the file."""

    def behaviour(body: dict) -> Reply:
        text = last_user(body)
        shown = sorted((text.find(c), rid) for rid, c in completions.items() if c in text)
        if len(shown) != 2:
            return Reply.error(400)
        key = f"{shown[0][1]} vs {shown[1][1]}"
        if key not in judgements:
            return Reply.error(400)
        return Reply.answer(json.dumps({"criteria": judgements[key]}, ensure_ascii=False))

    return behaviour


def record(out: Path) -> int:
    judgements = yaml.safe_load((HERE / "judgements.yaml").read_text())
    samples = [json.loads(line) for line in (HERE / "group.jsonl").read_text().splitlines()]
    completions = {s["meta"]["response"]: s["completion"] for s in samples}
    spec = yaml.safe_load((HERE / "pipeline.yaml").read_text())["reward"]
    out.unlink(missing_ok=True)
    server = OpenAIServer().start()
    server.behaviour = answer_from(judgements, completions)
    try:
        spec["judge"] = spec["judge"] | {"base_url": server.base_url, "cache_path": str(out)}
        with Reward.from_spec(spec, base_dir=HERE) as reward:
            scores = reward.score(samples)
    finally:
        server.stop()
    bad = [s for s in scores if not s.ok]
    for sample, score in zip(samples, scores, strict=True):
        print(f"{sample['meta']['response']:>12}  {score.value:.4f}  {score.status}")
    print(f"{len(server.requests)} judge answers recorded in {out}")
    return 1 if bad else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "judge_cache.sqlite")
    raise SystemExit(record(parser.parse_args().out))
