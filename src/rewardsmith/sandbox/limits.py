"""The per-run limits of a sandboxed program: time, memory, processes, files, output,
and the size of an answer to a served call."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    """Per-run limits, with safe defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    wall_seconds: float = Field(default=10.0, gt=0)
    cpu_seconds: int = Field(default=10, ge=1)
    memory_mb: int = Field(default=1024, ge=64)
    processes: int = Field(default=32, ge=1)
    open_files: int = Field(default=64, ge=8)
    file_size_mb: int = Field(default=16, ge=1)
    tmpfs_mb: int = Field(default=64, ge=1)
    output_bytes: int = Field(default=1 << 20, ge=1024)
    answer_bytes: int = Field(default=100_000, ge=64)  # a served call's answer, parsed here
