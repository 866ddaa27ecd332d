"""A clear error for a script without the `if __name__ == "__main__":` guard.

Worker processes are started with "spawn": each one begins by importing the parent's
main module. A training script that does its work at top level therefore runs again in
every worker (loading models, building rewards), starts workers of its own there, and
the worker dies; the parent's pool then reports `BrokenProcessPool: All workers
expired`. Both ends are told here: a worker that finds itself starting a pool while it
is still importing the main module exits at once with the fix (`refuse_in_bootstrap`),
and the parent adds the same fix to the error of work lost with its workers when its
main module has no guard (`hint`).
"""

from __future__ import annotations

import ast
import multiprocessing
import sys
from functools import cache
from pathlib import Path

FIX = (
    'put the script\'s work under `if __name__ == "__main__":` (worker processes start '
    "by importing the main module, so code at its top level runs again in each of them)"
)


def refuse_in_bootstrap() -> None:
    """Exit with the fix when called in a worker process still importing the main module
    (there, starting more workers can only mean the guard is missing)."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        main = getattr(sys.modules.get("__mp_main__"), "__file__", None) or "the main module"
        raise SystemExit(
            f"rewardsmith: this worker process is running {main} again and tried to start "
            f"workers of its own; {FIX}."
        )


def hint() -> str:
    """The fix, as a sentence to add to a worker-death error, when the main module is a
    script without the guard ("" otherwise)."""
    script = unguarded_main()
    return f'; {script} has no `if __name__ == "__main__":` guard: {FIX}' if script else ""


def unguarded_main() -> str | None:
    """The main module's file when it is Python source with no top-level `if` on
    `__name__ == "__main__"`, else None."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return path if path and not _guarded(path) else None


@cache
def _guarded(path: str) -> bool:
    try:
        tree = ast.parse(Path(path).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return True  # not a script we can read: nothing to say about it
    return any(isinstance(node, ast.If) and _names_main(node.test) for node in tree.body)


def _names_main(test: ast.expr) -> bool:
    names = {n.id for n in ast.walk(test) if isinstance(n, ast.Name)}
    texts = {n.value for n in ast.walk(test) if isinstance(n, ast.Constant)}
    return "__name__" in names and "__main__" in texts
