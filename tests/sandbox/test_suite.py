"""A program run once per test in one isolated run (`Suite`): each test ends the way a
run of its own would (exit code, output, limits), and a hostile test can neither forge
what is reported for itself or another test nor stop the tests after it from being
judged (checked, as for every sandbox test, by conftest.py: nothing of a run survives)."""

from __future__ import annotations

import pytest

from rewardsmith.sandbox.runner import Limits, Suite, available, run

pytestmark = pytest.mark.skipif(bool(available()), reason=available() or "sandbox available")

LIMITS = Limits(wall_seconds=3)
DOUBLE = "import sys\nprint(2 * int(sys.stdin.readline()))\n"


@pytest.mark.parametrize(
    "program",
    [
        DOUBLE,
        "import sys\nsys.exit(3)",
        "import sys\nprint('partial', flush=True)\nsys.exit('a message')",
        "raise ValueError('no')",
        "import os\nprint('before', flush=True)\nos._exit(7)",
        "import sys\ndata = sys.stdin.read()\nprint(len(data), data.count('\\n'))",
        "def broken(:\n    pass",
        "print('no newline', end='')",
        "import threading, time\n"
        "def later():\n    time.sleep(0.2)\n    print('from a thread, after', flag)\n"
        "threading.Thread(target=later).start()\nflag = 1\nprint('main done')",
        "import atexit\natexit.register(lambda: print('at exit'))\nprint('first')",
        # an unclosed file held by a global, in a cycle with the program's function
        "import os\nout = os.fdopen(os.dup(1), 'w')\n"
        "def solve():\n    out.write('unclosed')\nsolve()",
        # imports the run makes ahead of the tests (and those it leaves to them)
        "import this",
        "import numpy_not_here\nprint(1)",
        "from collections import Counter\nimport heapq, sys\n"
        "print(Counter(sys.stdin.read().split()).most_common(1), heapq.nlargest(1, [3, 1]))",
        "import sys\nprint('re' in sys.modules, 'json' in sys.modules)\nimport json, re",
        "print(__import__('sys').modules.get('json') is None)\nimport json",
        '"""The docstring."""\nimport json\nprint(json.dumps([1]))',
    ],
)
def test_each_test_ends_as_a_run_of_its_own_would(program):
    stdin = b"21\nmore\nlines\n"
    alone = run(program, stdin, LIMITS)
    with Suite(program, LIMITS) as suite:
        in_suite = [suite.run(stdin) for _ in range(2)]
    assert alone.stdout or alone.exit_code  # (the program printed, or failed)
    for result in in_suite:
        assert (result.exit_code, result.stdout) == (alone.exit_code, alone.stdout)
        assert result.verdict == alone.verdict
        assert (b"Error" in result.stderr) == (b"Error" in alone.stderr)


def test_a_test_dies_of_the_signals_it_sends_itself_as_under_plain_python():
    """Unlike a run of its own, where the program is its PID namespace's init (which
    ignores them), a test is an ordinary process of the run."""
    with Suite("import os\nprint('before', flush=True)\nos.kill(os.getpid(), 9)", LIMITS) as suite:
        result = suite.run(b"")
    assert (result.exit_code, result.stdout) == (-9, b"before\n")


def test_tests_of_one_suite_see_their_own_input():
    with Suite(DOUBLE, LIMITS) as suite:
        outputs = [suite.run(b"%d\n" % n).stdout for n in range(20)]
    assert outputs == [b"%d\n" % (2 * n) for n in range(20)]


def test_a_test_out_of_time_or_output_costs_only_itself():
    program = (
        "import sys\nline = sys.stdin.readline()\n"
        "if line == 'loop\\n':\n    while True: pass\n"
        "if line == 'flood\\n':\n    print('x' * 10**7)\n"
        "if line == 'quiet\\n':\n"
        "    import os, time\n    os.close(1)\n    os.close(2)\n    time.sleep(60)\n"
        "print('ok')\n"
    )
    with Suite(program, Limits(wall_seconds=1)) as suite:
        results = [suite.run(line) for line in (b"loop\n", b"a\n", b"flood\n", b"quiet\n", b"b\n")]
    assert [r.verdict for r in results] == [
        "timeout",
        "exited",
        "output limit",
        "timeout",
        "exited",
    ]
    assert results[1].stdout == results[4].stdout == b"ok\n"


def test_a_test_cannot_write_to_the_pipes_that_report_results():
    """Every descriptor it could inherit is closed, and its parent's are not reachable
    through /proc (the parent is undumpable): a forged answer goes nowhere."""
    forge = (
        "import marshal, os, sys\n"
        "answer = {'exit_code': 0, 'stdout': b'FORGED\\n', 'stderr': b'',"
        " 'timed_out': False, 'capped': False}\n"
        "blob = marshal.dumps(answer)\n"
        "frame = len(blob).to_bytes(4, 'little') + blob\n"
        "reached = []\n"
        "targets = list(range(3, 64))\n"
        "targets += [f'/proc/{os.getppid()}/fd/{n}' for n in range(64)]\n"
        "for target in targets:\n"
        "    try:\n"
        "        fd = target if isinstance(target, int) else os.open(target, os.O_WRONLY)\n"
        "        os.write(fd, frame * 4)\n"
        "        reached.append(str(target))\n"
        "    except OSError:\n"
        "        pass\n"
        "print('reached', len(reached))\n"
    )
    with Suite(forge, LIMITS) as suite:
        first, second = suite.run(b""), suite.run(b"")
    assert first.stdout == second.stdout == b"reached 0\n"


def test_a_test_that_kills_its_run_fails_alone_and_the_next_gets_a_fresh_run():
    program = (
        "import os, signal, sys\n"
        "if sys.stdin.readline() == 'kill\\n':\n"
        "    os.kill(-1, signal.SIGKILL)\n"  # every process of the run it may signal
        "print('ok')\n"
    )
    with Suite(program, LIMITS) as suite:
        results = [suite.run(line) for line in (b"a\n", b"kill\n", b"b\n", b"c\n")]
    assert [r.stdout for r in results] == [b"ok\n", b"", b"ok\n", b"ok\n"]
    assert results[1].verdict != "exited"


def test_every_test_gets_its_own_cpu_limit():
    """RLIMIT_CPU counts per process: each test is a new one, so ten tests that each
    spin for most of the limit all finish."""
    program = (
        "import resource, time\n"
        "start = time.process_time()\n"
        "while time.process_time() - start < 0.6: pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_utime < 1.0)\n"
    )
    limits = Limits(wall_seconds=30, cpu_seconds=1)
    with Suite(program, limits) as suite:
        results = [suite.run(b"") for _ in range(4)]
    assert [(r.verdict, r.stdout) for r in results] == [("exited", b"True\n")] * 4
