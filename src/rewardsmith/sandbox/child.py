"""Starting a sandbox child: a `python -I -S` stub that runs the bootstrap (bootstrap.py)
sent to it, compiled, on a control pipe, followed by its settings and then its program,
each as a length-prefixed marshal frame. Children are started from the process's lasting
thread (core/lifecycle.py): the bootstrap has the kernel kill the child when this process
ends, a signal tied to the thread that started it."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from rewardsmith.core.lifecycle import start_in_lasting_thread
from rewardsmith.sandbox.limits import Limits
from rewardsmith.sandbox.tree import tree_plan

BOOTSTRAP_PATH = Path(__file__).with_name("bootstrap.py")
# compiled once here, not in every child: the child's `-c` stub reads it as the first
# control frame (the same interpreter runs both, so the marshal format is the same);
# without docstrings it stays far below a pipe's buffer, so sending it never waits
BOOTSTRAP_CODE = marshal.dumps(
    compile(BOOTSTRAP_PATH.read_text(), str(BOOTSTRAP_PATH), "exec", optimize=2)
)
STUB = (
    "import marshal, os, sys\n"
    "control = os.fdopen(int(sys.argv[1]), 'rb')\n"
    "exec(marshal.loads(control.read(int.from_bytes(control.read(4), 'little'))))\n"
)


def frame(payload: object) -> bytes:
    """A 4-byte length and a marshal blob: the control channel's unit."""
    blob = marshal.dumps(payload)
    return len(blob).to_bytes(4, "little") + blob


def code_frame() -> bytes:
    """The first control frame: the bootstrap, compiled."""
    return len(BOOTSTRAP_CODE).to_bytes(4, "little") + BOOTSTRAP_CODE


# the namespaces and the file tree a run gets (bootstrap.py); never fewer in use: only
# bench/code_throughput.py lowers it, to measure what each layer costs
ISOLATION_LAYERS = ("network", "pid", "ipc", "uts", "tree")


def bootstrap_settings(limits: Limits, uid: int, mode: str) -> dict[str, Any]:
    """How the bootstrap isolates a run (the only frame for a run forked by the
    template)."""
    return {"mode": mode, "uid": uid, "limits": limits.model_dump(), "layers": ISOLATION_LAYERS}


def template_settings(mode: str) -> dict[str, Any]:
    """How the bootstrap sets up a template (after the code frame): the namespaces and
    file tree its runs share."""
    return {
        "template": True,
        "mode": mode,
        "parent": os.getpid(),
        "tree": tree_plan(),
        "layers": ISOLATION_LAYERS,
    }


def start_child(control: int, *more_fds: int) -> subprocess.Popen:
    """A `python -I -S` child that will run the bootstrap sent on `control`."""
    return start_in_lasting_thread(
        lambda: subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", STUB, str(control), *map(str, more_fds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(control, *more_fds),
            env={},
            start_new_session=True,
        )
    )
