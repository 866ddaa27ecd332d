"""The launcher behind `rewardsmith serve`: check the reward, then run uvicorn workers.

The reward is built once here, so that a bad definition fails with its message before
any worker starts, and then once more in every worker process (from the settings in
`$REWARDSMITH_SERVE_SETTINGS`). Metrics go to a fresh temporary directory shared by the
workers and removed on exit; so does a second one for what workers share (the step set
by `POST /step`, and with gathering the SQLite mailbox in which one-sample requests of a
group meet, whichever worker each lands on: uvicorn's workers share one socket, so a
request cannot be routed to the worker holding the rest of its group). On SIGTERM or
SIGINT uvicorn stops accepting connections and lets requests in flight finish (they are
bounded by the deadline) before exiting.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import uvicorn

from rewardsmith.adapters.gather import GatherSettings
from rewardsmith.api import default_workers, load_reward
from rewardsmith.serve.settings import METRICS_DIR_ENV, SETTINGS_ENV, ServerSettings

FACTORY = "rewardsmith.serve.app:create_app_from_env"
GRACE_SECONDS = 5.0  # beyond the deadline, for answers to be written out


def serve(
    reward: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 2,
    max_queue: int = 32,
    max_body_bytes: int = 16 << 20,
    deadline_seconds: float = 60.0,
    token_env: str | None = None,
    gather: GatherSettings | None = None,
    health: bool = False,
) -> None:
    """Serve `reward` until stopped. Raises ConfigError or ValueError for bad settings.

    Each of the `workers` processes gets an equal share of the machine's cores (at least
    one) for the reward's CPU-heavy checks. With `gather`, one-sample requests are
    gathered into groups (see `rewardsmith.adapters.gather`).
    """
    if gather is not None:
        _check_gathering(gather, max_queue, deadline_seconds)
    settings = ServerSettings(
        reward=reward,
        workers=workers,
        check_workers=max(1, default_workers() // workers),
        max_queue=max_queue,
        max_body_bytes=max_body_bytes,
        deadline_seconds=deadline_seconds,
        token_env=token_env,
        launcher=os.getpid(),
        health=health,
    )
    settings.token()
    load_reward(reward, workers=1).close()
    with (
        tempfile.TemporaryDirectory(prefix="rewardsmith-metrics-") as metrics_dir,
        tempfile.TemporaryDirectory(prefix="rewardsmith-shared-") as shared_dir,
    ):
        if gather is not None and workers > 1:
            mailbox = "sqlite:///" + str(Path(shared_dir) / "gather.sqlite")
            gather = gather.model_copy(update={"mailbox": mailbox})
        settings = settings.model_copy(update={"gather": gather, "shared_dir": shared_dir})
        os.environ[METRICS_DIR_ENV] = metrics_dir
        os.environ[SETTINGS_ENV] = settings.model_dump_json()
        uvicorn.run(
            FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            timeout_graceful_shutdown=deadline_seconds + GRACE_SECONDS,
            access_log=False,
        )


def _check_gathering(gather: GatherSettings, max_queue: int, deadline_seconds: float) -> None:
    """ValueError when a gathered group could never be answered in time or in full."""
    if gather.wait_seconds >= deadline_seconds:
        raise ValueError(
            f"--group-wait-seconds: {gather.wait_seconds:g} s; expected less than "
            f"--deadline-seconds ({deadline_seconds:g} s), or waiting requests time out first"
        )
    if gather.size > max_queue:
        raise ValueError(
            f"--group-size: {gather.size}; expected at most --max-queue ({max_queue}), the "
            "requests one worker admits at once, or a group could not be held in full"
        )
