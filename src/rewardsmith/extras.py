"""The optional extras, and what to say when one is missing.

`rewardsmith` itself needs only the core install; the server, the Ray backend and the
local language-model backend need an extra each (`pip install 'rewardsmith[serve]'`).
The command line runs through `main`, which turns an import of a missing extra's
package into one line naming the extra to install, instead of a traceback.
"""

from __future__ import annotations

import sys

# The top-level package of every optional dependency, and the extra that installs it.
EXTRAS = {
    "fastapi": "serve",
    "starlette": "serve",
    "uvicorn": "serve",
    "prometheus_client": "serve",
    "ray": "ray",
    "torch": "lm",
    "transformers": "lm",
}


def missing_extra(exc: BaseException) -> str | None:
    """The install command for the extra whose package `exc` (or what caused it) failed
    to import, or None when it is not about an extra."""
    while exc is not None:
        name = getattr(exc, "name", None) if isinstance(exc, ImportError) else None
        extra = EXTRAS.get((name or "").partition(".")[0])
        if extra:
            return (
                f"{name} is not installed; this needs the {extra} extra: "
                f"pip install 'rewardsmith[{extra}]'"
            )
        exc = exc.__cause__ or exc.__context__
    return None


def main() -> None:
    """The `rewardsmith` command: the CLI, with a missing extra said in one line (exit 2)."""
    from rewardsmith.cli import app

    try:
        app()
    except ImportError as exc:
        message = missing_extra(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
