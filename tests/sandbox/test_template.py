"""Runs forked from the warm template: a run holds nothing of the template's but its own
pipes, a template that dies is replaced and takes its runs with it, and closing the
pools reaps it (no zombie is left to a PID 1 that may never reap it)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rewardsmith.sandbox import template as template_module
from rewardsmith.sandbox.isolation import mode
from rewardsmith.sandbox.runner import Limits, Session, available, close_pools, run

pytestmark = pytest.mark.skipif(bool(available()), reason=available() or "sandbox available")

LIST_DESCRIPTORS = (
    "import os\n"
    "for fd in sorted(map(int, os.listdir('/proc/self/fd'))):\n"
    "    try:\n"
    "        print(fd, os.readlink(f'/proc/self/fd/{fd}'))\n"
    "    except OSError:\n"
    "        pass\n"  # the listing's own descriptor, gone by now
)


def test_a_run_holds_only_its_own_pipes():
    result = run(LIST_DESCRIPTORS)
    lines = result.stdout.decode().splitlines()
    assert [line.split()[0] for line in lines] == ["0", "1", "2", "4"]  # 4: its answers
    assert all(line.split()[1].startswith("pipe:") for line in lines)  # no socket


def test_runs_of_a_template_that_dies_end_and_the_next_template_serves():
    with Session("import time\ndef f():\n    time.sleep(60)\n", "f", Limits()) as session:
        first = template_module.template(mode())
        os.kill(first.pid, signal.SIGKILL)
        assert session.worker.process.wait(timeout=30) == -signal.SIGKILL
    result = run("print('again')")
    assert result.stdout == b"again\n"
    assert template_module.template(mode()).pid != first.pid


def test_closing_the_pools_reaps_the_template():
    run("print(1)")
    pid = template_module.template(mode()).pid
    close_pools()
    assert not Path(f"/proc/{pid}").exists()  # not even a zombie
    assert run("print(2)").stdout == b"2\n"  # a new one starts when needed


def _run_in_a_forked_process(_: int) -> bytes:
    return run("print('child')").stdout


def test_a_process_forked_from_a_scoring_process_starts_its_own_template():
    run("print(1)")  # this process has a template
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map(_run_in_a_forked_process, [0]) == [b"child\n"]
    assert run("print(2)").stdout == b"2\n"  # and this one keeps its own


@pytest.mark.parametrize(
    "program",
    [
        "print('plain')",
        "import threading, time\n"
        "def later():\n    time.sleep(0.2)\n    print('from a thread', time.time() > 0)\n"
        "threading.Thread(target=later).start()\nprint('main done')",
        "import atexit\natexit.register(lambda: print('at exit'))\nprint('first')",
        # an unclosed file held by a global, in a cycle with the program's functions
        "import os\nout = os.fdopen(os.dup(1), 'w')\n"
        "def solve():\n    out.write('unclosed, buffered')\nsolve()",
        "class Loud:\n    def __del__(self):\n        print('finalized')\n"
        "loud = Loud()\nloud.me = loud",
        "import os\nprint('lost')\nos.close(1)",
        "import sys\nprint('partial')\nsys.exit(4)",
        "raise SystemExit('bye')",
        "import os, signal\nprint('x', flush=True)\nos.kill(os.getpid(), signal.SIGTERM)",
    ],
)
def test_a_run_ends_as_plain_python_would(program):
    """What a program can see of the interpreter's exit (threads joined, atexit, its
    globals finalized in order, stdout flushed, status 120 when that fails) is the same
    as under plain `python`, though it runs in a dict of its own in a forked run."""
    bare = subprocess.run([sys.executable, "-I", "-S", "-c", program], capture_output=True)
    result = run(program)
    if "SIGTERM" in program:  # the run's program is its PID namespace's init: it goes on
        assert (result.exit_code, result.stdout) == (0, b"x\n")
        return
    assert (result.exit_code, result.stdout) == (bare.returncode, bare.stdout)
