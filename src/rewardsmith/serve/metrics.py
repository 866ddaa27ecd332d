"""Prometheus metrics of the server, added up over all its worker processes.

With `PROMETHEUS_MULTIPROC_DIR` set (the launcher sets it to a fresh directory), every
worker writes its values to files there and `/metrics` on any worker reports the sum over
all of them: counters and histograms of workers that died included, gauges only of live
workers (a worker killed with SIGKILL cannot clean up, so a scrape forgets its gauges).
Without the variable, one process's values are reported.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rewardsmith.core.procfs import EXITED_STATES, process_stat
from rewardsmith.core.types import Score
from rewardsmith.serve.settings import METRICS_DIR_ENV

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
REWARD_BUCKETS = (-1, -0.5, -0.25, 0, 0.25, 0.5, 0.75, 1, 1.5, 2, 5)
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w*?_(\d+)\.db")


class Metrics:
    """The server's metrics: requests, latency, rewards, statuses, queue and in-flight."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.directory = os.environ.get(METRICS_DIR_ENV)
        self.registry = CollectorRegistry()
        if self.directory:
            multiprocess.MultiProcessCollector(self.registry, path=self.directory)
        owner = None if self.directory else self.registry  # multiprocess: values live in files
        self.requests = Counter(
            "rewardsmith_requests",
            "HTTP requests answered, by endpoint and status code.",
            ["endpoint", "code"],
            registry=owner,
        )
        self.latency = Histogram(
            "rewardsmith_request_seconds",
            "Time to answer an HTTP request, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=owner,
        )
        self.rewards = Histogram(
            "rewardsmith_reward",
            "Rewards given, per named component of the reward (the root included).",
            ["component"],
            buckets=REWARD_BUCKETS,
            registry=owner,
        )
        self.samples = Counter(
            "rewardsmith_samples",
            "Samples scored, by status (ok, invalid, unparseable, timeout, error).",
            ["status"],
            registry=owner,
        )
        self.queue_depth = Gauge(
            "rewardsmith_queue_depth",
            "Scoring requests admitted and not yet answered (waiting or being scored).",
            registry=owner,
            multiprocess_mode="livesum",
        )
        self.in_flight = Gauge(
            "rewardsmith_in_flight_requests",
            "HTTP requests being handled, any endpoint.",
            registry=owner,
            multiprocess_mode="livesum",
        )
        self.health = Gauge(
            "rewardsmith_health",
            "Reward-health signals of the latest training step seen (with --health): "
            "mean_length, error_rate, timeout_rate, hostile_rate, repeated_share, "
            "zero_variance_share, format_rate, and each component's share.",
            ["signal", "component"],
            registry=owner,
            multiprocess_mode="mostrecent",
        )
        self.health_step = Gauge(
            "rewardsmith_health_step",
            "The training step the rewardsmith_health signals are of.",
            registry=owner,
            multiprocess_mode="mostrecent",
        )
        self.queue_depth.set(0)
        self.in_flight.set(0)

    def observe_scores(self, scores: list[Score]) -> None:
        """Count each sample by status and observe the values of its components."""
        for score in scores:
            self.samples.labels(str(score.status)).inc()
            for name, value in score.components.items():
                self.rewards.labels(name).observe(value)

    def observe_health(self, step: int, signals: dict[str, float]) -> None:
        """Set the health gauges to one step's signals (report/monitor.py)."""
        self.health_step.set(step)
        for name, value in signals.items():
            signal, _, component = name.partition(":")
            self.health.labels("component_share" if component else signal, component).set(value)

    def exposition(self) -> bytes:
        """The Prometheus text format of all workers' metrics."""
        if self.directory:
            _forget_dead_workers(Path(self.directory))
        return generate_latest(self.registry)

    def worker_exit(self) -> None:
        """Drop this worker's live gauges (call when the worker shuts down)."""
        if self.directory:
            multiprocess.mark_process_dead(os.getpid(), self.directory)


def _forget_dead_workers(directory: Path) -> None:
    for path in directory.glob("gauge_live*.db"):
        found = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if found and not _alive(int(found.group(1))):
            multiprocess.mark_process_dead(int(found.group(1)), str(directory))


def _alive(pid: int) -> bool:
    """Whether `pid` is a running process: a killed worker that its supervisor has not
    reaped yet (a zombie, on Linux) is dead already."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    found = process_stat(pid)
    return found is None or found[0] not in EXITED_STATES  # None: no /proc, trust the signal


class MetricsMiddleware:
    """Counts and times every HTTP request; `endpoints` are the paths reported by name
    (anything else is `other`, so scanners cannot blow up the label set)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, endpoints: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = scope["path"] if scope["path"] in self.endpoints else "other"
        code = 500  # unless the app starts a response

        async def send_and_note(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
            self.metrics.requests.labels(endpoint, str(code)).inc()
