"""Training state that persists across steps and is shared across workers.

Adaptive rewards keep per-prompt history, running statistics and noise-rate estimates
as records of float fields, changed by atomic `Update`s (see `store`):

    with open_store("sqlite:///run/state.sqlite") as store:
        store.apply([Update("prompt_stats", prompt_id, add={"seen": 1, "solved": 1})])
        stats = store.read("prompt_stats", [prompt_id])

Backends: `MemoryStore` ("memory://", one process), `SqliteStore` ("sqlite:///path",
the default: one machine, survives restarts) and `RedisStore` ("redis://host:port/db",
shared by many machines), the last imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rewardsmith.state.memory import MemoryStore
from rewardsmith.state.sqlite import SqliteStore
from rewardsmith.state.store import ENV_VAR, StateStore, Update, open_store, resolve_url

if TYPE_CHECKING:
    from rewardsmith.state.redis import RedisStore

__all__ = [
    "ENV_VAR",
    "MemoryStore",
    "RedisStore",
    "SqliteStore",
    "StateStore",
    "Update",
    "open_store",
    "resolve_url",
]


def __getattr__(name: str) -> Any:
    if name != "RedisStore":
        raise AttributeError(f"module 'rewardsmith.state' has no attribute {name!r}")
    from rewardsmith.state.redis import RedisStore

    return RedisStore
