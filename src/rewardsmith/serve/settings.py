"""What one server needs to know, passed from the launcher to its worker processes.

uvicorn starts each worker as a fresh process that builds the app from a factory, so the
launcher puts the settings, as JSON, into an environment variable the workers inherit.
The bearer token itself never goes there: workers read it from `token_env`.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field

from rewardsmith.adapters.gather import GatherSettings

SETTINGS_ENV = "REWARDSMITH_SERVE_SETTINGS"
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client when imported


class ServerSettings(BaseModel):
    """One server's reward and limits (per worker process where it says so)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reward: str = Field(description="built-in reward name or YAML file")
    workers: int = Field(default=2, ge=1, description="uvicorn worker processes")
    check_workers: int = Field(default=1, ge=1, description="reward check processes per worker")
    max_queue: int = Field(default=32, ge=1, description="requests admitted per worker")
    max_body_bytes: int = Field(default=16 << 20, ge=1024)
    deadline_seconds: float = Field(default=60.0, gt=0)
    token_env: str | None = Field(default=None, description="variable holding the bearer token")
    launcher: int | None = Field(
        default=None, description="process id of the launcher; its worker processes die with it"
    )
    gather: GatherSettings | None = Field(
        default=None, description="gather one-sample requests into groups (see adapters/gather)"
    )
    shared_dir: str | None = Field(
        default=None, description="a directory all workers share (the step set by POST /step)"
    )
    health: bool = Field(
        default=False,
        description="record reward-health signals per training step in the reward's state "
        "store and export them as rewardsmith_health gauges (report/monitor.py)",
    )

    def token(self) -> str | None:
        """The bearer token clients must send, or None when auth is off."""
        if self.token_env is None:
            return None
        token = os.environ.get(self.token_env, "")
        if not token:
            raise ValueError(f"--token-env: the variable {self.token_env} is unset or empty")
        return token

    @classmethod
    def from_env(cls) -> ServerSettings:
        """The settings the launcher left for this worker process."""
        raw = os.environ.get(SETTINGS_ENV)
        if raw is None:
            raise RuntimeError(
                f"{SETTINGS_ENV} is not set; start the server with `rewardsmith serve`"
            )
        return cls.model_validate_json(raw)
