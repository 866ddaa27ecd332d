"""LLM judges: a backend for OpenAI-compatible servers, structured-answer parsing, and
robustness probes (`rewardsmith.judge.probes`)."""

from rewardsmith.judge.backend import (
    ChatRequest,
    ChatResult,
    ChatStatus,
    JudgeBackend,
    JudgeConfig,
    JudgeStats,
)
from rewardsmith.judge.parse import parse_json_answer

__all__ = [
    "ChatRequest",
    "ChatResult",
    "ChatStatus",
    "JudgeBackend",
    "JudgeConfig",
    "JudgeStats",
    "parse_json_answer",
]
