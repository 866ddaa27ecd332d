"""Reward server throughput: math rewards over HTTP against the same reward in-process.

Builds OpenRLHF batches (one GRPO group of long chain-of-thought completions per batch)
with mathgen.py, each query a Qwen-style chat prompt + completion + `<|im_end|>`, then,
in one run:

1. in-process: `Reward.score` on the batches one after another (the math reward with
   `--workers` check processes), for at most `--seconds`;
2. over HTTP: `rewardsmith serve --reward math` with `--workers` server processes (one
   check process each), `--clients` concurrent clients posting the same batches to
   `/get_reward` for at most `--seconds`; the rewards must equal the in-process ones;
3. overload: ten times as many clients as the server admits (`--max-queue` per worker),
   for `--seconds`: the share answered 429, that no 5xx (or connection error) happened,
   and the peak resident memory of the server's processes.

Each phase scores every batch at most once, so verdict caches help both sides equally.
Rewards/s counts samples scored; latency is per batch (per request over HTTP).

    python bench/serve_throughput.py [--prompts 2048] [--group-size 16] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
from mathgen import make_batch

from rewardsmith.api import load_reward
from rewardsmith.serve.local import LocalServer

CHAT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{question}\n"
    "Please reason step by step, and put your final answer within \\boxed{{}}.<|im_end|>\n"
    "<|im_start|>assistant\n"
)
END = "<|im_end|>"
OVERLOAD = 10


@dataclass
class Batch:
    samples: list[dict]
    body: bytes  # the OpenRLHF request, encoded once


@dataclass
class Phase:
    """What one phase measured."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    rewards: dict[int, list[float]] = field(default_factory=dict)  # batch index -> rewards
    statuses: Counter[str] = field(default_factory=Counter)

    def row(self, name: str) -> str:
        scored = sum(len(r) for r in self.rewards.values())
        p50, p99 = (percentile(self.latencies, q) * 1000 for q in (50, 99))
        return (
            f"{name:<34}{scored / self.seconds:>11.0f}{p50:>9.0f}{p99:>9.0f}"
            f"{len(self.rewards):>9}{self.seconds:>8.1f}"
        )


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def batches(prompts: int, group_size: int, seed: int) -> list[Batch]:
    """One OpenRLHF batch per GRPO group."""
    records = make_batch(prompts, group_size, seed=seed)
    out = []
    for start in range(0, len(records), group_size):
        group = records[start : start + group_size]
        chats = [CHAT.format(question=r["prompt"]) for r in group]
        body = {
            "query": [c + r["completion"] + END for c, r in zip(chats, group, strict=True)],
            "prompts": chats,
            "labels": [r["reference"] for r in group],
        }
        samples = [{k: r[k] for k in ("prompt", "completion", "reference")} for r in group]
        out.append(Batch(samples, json.dumps(body).encode()))
    return out


def in_process(work: list[Batch], warm: list[Batch], workers: int, seconds: float) -> Phase:
    phase = Phase()
    with load_reward("math", workers=workers) as reward:
        for batch in warm:
            reward.score(batch.samples)
        started = time.perf_counter()
        for index, batch in enumerate(work):
            before = time.perf_counter()
            phase.rewards[index] = [s.value for s in reward.score(batch.samples)]
            phase.latencies.append(time.perf_counter() - before)
            if time.perf_counter() - started > seconds:
                break
        phase.seconds = time.perf_counter() - started
    return phase


async def over_http(
    url: str, work: list[Batch], clients: int, seconds: float, repeat: bool = False
) -> Phase:
    """`clients` concurrent clients posting the batches in turn until time is up (or, unless
    `repeat`, the batches run out)."""
    phase = Phase()
    queue = iter(range(len(work) * (1000 if repeat else 1)))
    headers = {"Content-Type": "application/json"}

    async def client(stop: float) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:  # one connection
            for turn in queue:
                if time.perf_counter() > stop:
                    return
                index = turn % len(work)
                before = time.perf_counter()
                try:
                    response = await http.post(
                        "/get_reward", content=work[index].body, headers=headers
                    )
                except httpx.HTTPError as exc:
                    phase.statuses[type(exc).__name__] += 1
                    continue
                phase.statuses[str(response.status_code)] += 1
                if response.status_code == 200:
                    phase.latencies.append(time.perf_counter() - before)
                    phase.rewards[turn] = response.json()["rewards"]
                elif response.status_code == 429:
                    await asyncio.sleep(0.05)

    started = time.perf_counter()
    await asyncio.gather(*(client(started + seconds) for _ in range(clients)))
    phase.seconds = time.perf_counter() - started
    return phase


def overload(server: LocalServer, work: list[Batch], clients: int, seconds: float) -> str:
    peak: dict[int, int] = {}
    baseline = sum(server.memory().values())
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.25):
            for pid, rss in server.memory().items():
                peak[pid] = max(peak.get(pid, 0), rss)

    watcher = threading.Thread(target=watch)
    watcher.start()
    phase = asyncio.run(over_http(server.url, work, clients, seconds, repeat=True))
    done.set()
    watcher.join()
    answered = sum(phase.statuses.values())
    failures = {k: v for k, v in phase.statuses.items() if k not in ("200", "429")}
    scored = sum(len(r) for r in phase.rewards.values())
    mb = 2**20
    return (
        f"overload: {clients} clients ({OVERLOAD}x the {len(server.worker_pids())} workers x "
        f"{server.options['max_queue']} admitted) for {phase.seconds:.1f} s: {answered} answers, "
        f"{phase.statuses['429'] / answered:.1%} 429, {phase.statuses['200']} ok "
        f"({scored / phase.seconds:.0f} rewards/s), other answers or errors: {failures or 'none'}\n"
        f"resident memory of the server's processes: {baseline / mb:.0f} MB before, "
        f"{sum(peak.values()) / mb:.0f} MB peak (largest process {max(peak.values()) / mb:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=2048, help="batches (one group each)")
    parser.add_argument("--group-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-queue", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase")
    args = parser.parse_args()

    work = batches(args.prompts, args.group_size, seed=0)
    warm = batches(8, args.group_size, seed=1)
    chars = statistics.mean(len(s["completion"]) for b in work for s in b.samples)
    print(
        f"math reward; {len(work)} OpenRLHF batches of {args.group_size} completions "
        f"(mean {chars:.0f} chars); {args.workers} processes on each side"
    )
    local = in_process(work, warm, args.workers, args.seconds)

    options = {"max_queue": args.max_queue, "max_body_bytes": 64 << 20}
    with LocalServer("math", workers=args.workers, options=options) as server:
        asyncio.run(over_http(server.url, warm, args.workers, 60))
        remote = asyncio.run(over_http(server.url, work, args.clients, args.seconds))
        load = overload(server, work, OVERLOAD * args.workers * args.max_queue, args.seconds)

    print(f"{'':<34}{'rewards/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'batches':>9}{'s':>8}")
    print(local.row("in-process Reward.score"))
    print(remote.row(f"HTTP /get_reward, {args.clients} clients"))
    ratio = (
        sum(len(r) for r in remote.rewards.values())
        / remote.seconds
        / (sum(len(r) for r in local.rewards.values()) / local.seconds)
    )
    print(f"ratio (HTTP rewards/s / in-process rewards/s): {ratio:.2f}")
    both = set(local.rewards) & set(remote.rewards)
    same = sum(local.rewards[i] == remote.rewards[i] for i in both)
    print(f"rewards identical on {same}/{len(both)} batches scored both ways")
    failures = {k: v for k, v in remote.statuses.items() if k != "200"}
    if failures:
        print(f"HTTP phase answers other than 200: {failures}")
    print(load)


if __name__ == "__main__":
    main()
