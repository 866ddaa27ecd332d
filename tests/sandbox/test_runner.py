"""Hostile programs against the sandbox: each attack fails, the host is unchanged, and
no process of the run survives (checked after every test by conftest.py: each run's
cgroup, removable only once empty, is gone)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from rewardsmith.sandbox.runner import (
    CallFailed,
    Limits,
    Session,
    available,
    run,
)

pytestmark = pytest.mark.skipif(bool(available()), reason=available() or "sandbox available")


def test_runs_a_program_with_stdin():
    result = run("print(input()[::-1])", b"abc\n")
    assert (result.exit_code, result.stdout) == (0, b"cba\n")


def test_no_network_even_to_a_loopback_listener(leak_target):
    listener, program = leak_target
    result = run(program)
    assert result.exit_code != 0
    assert b"Network is unreachable" in result.stderr
    with pytest.raises(TimeoutError):
        listener.accept()


def test_cannot_write_outside_scratch_and_scratch_vanishes(tmp_path):
    target = tmp_path / "pwned"
    os.chmod(tmp_path, 0o777)  # even a world-writable host directory stays untouched
    program = (
        "import os\n"
        "open('scratch.txt', 'w').write('ok')\n"
        "for path in ['/etc/pwned', '/tmp/pwned', '/var/tmp/pwned', " + repr(str(target)) + "]:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "    except OSError:\n"
        "        pass\n"
        "print(os.getcwd(), open('scratch.txt').read())\n"
    )
    result = run(program)
    assert result.exit_code == 0 and result.stdout.endswith(b" ok\n")
    for path in ("/etc/pwned", "/tmp/pwned", "/var/tmp/pwned", target):
        assert not os.path.exists(path)


def test_parent_environment_and_private_home_are_invisible(monkeypatch):
    monkeypatch.setenv("REWARDSMITH_SECRET_TOKEN", "hunter2")
    program = (
        "import os\n"
        "print(sorted(os.environ))\n"
        "print(open('/proc/1/environ', 'rb').read() if os.access('/proc/1/environ', os.R_OK)"
        " else 'no')\n"
        "print(os.listdir('/root'))\n"
    )
    result = run(program)
    assert b"hunter2" not in result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == b"['HOME', 'LANG', 'PATH']"
    assert result.stdout.splitlines()[1] == b"no"
    assert b".ssh" not in result.stdout


def test_infinite_loop_and_ignored_signals_are_killed_on_time():
    for program in (
        "while True: pass",
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(100)",
    ):
        start = time.perf_counter()
        result = run(program, limits=Limits(wall_seconds=1))
        assert result.timed_out and time.perf_counter() - start < 5


def test_fork_bomb_is_bounded_and_cleaned_up(outer_guard):
    program = (
        "import os\n"
        "n = 0\n"
        "for _ in range(10_000):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            import time; time.sleep(60); os._exit(0)\n"
        "        n += 1\n"
        "    except OSError:\n"
        "        break\n"
        "print(n)\n"
    )
    result = run(program, limits=Limits(processes=16, wall_seconds=5))
    assert int(result.stdout) < 16


def test_memory_bomb_fails_inside_the_sandbox(outer_guard):
    result = run("blob = bytearray(8 << 30)", limits=Limits(memory_mb=512))
    assert result.exit_code != 0 and b"MemoryError" in result.stderr


def test_huge_output_is_capped():
    result = run(
        "import sys\nwhile True: sys.stdout.write('x' * 65536)", limits=Limits(output_bytes=1 << 16)
    )
    assert result.output_capped and len(result.stdout) <= 1 << 16


def test_daemons_and_new_sessions_do_not_survive():
    program = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(300)\n"
        "    os._exit(0)\n"
        "print('parent exits')\n"
    )
    assert run(program).stdout == b"parent exits\n"
    # conftest.py's autouse fixture checks that the run's cgroup, so the grandchild, is gone


def test_killing_the_parent_is_impossible():
    program = f"import os, signal\nos.kill({os.getpid()}, signal.SIGKILL)\n"
    result = run(program)  # not even visible: the run has its own PID namespace
    assert result.exit_code != 0 and b"ProcessLookupError" in result.stderr


def test_served_calls_return_plain_values_only():
    program = (
        "class Liar:\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "def f(x, scale=1):\n"
        "    if x == 'liar':\n"
        "        return Liar()\n"
        "    if x == 'boom':\n"
        "        raise ValueError(x)\n"
        "    return {'x': [x, x * scale], 'ok': True}\n"
    )
    with Session(program, "f", Limits()) as session:
        assert session.ready
        assert session.call([2], {"scale": 3}) == {"x": [2, 6], "ok": True}
        for bad, why in (("liar", "not a plain value"), ("boom", "raised ValueError")):
            with pytest.raises(CallFailed, match=why):
                session.call([bad], {})
        assert session.call(["a"], {}) == {"x": ["a", "a"], "ok": True}


def test_concurrent_runs_use_separate_uids():
    outputs: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: outputs.append(run("import os; print(os.getuid())").stdout))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(outputs)) == 4


@pytest.mark.parametrize(
    "trick",
    [
        # half an answer on the real answer pipe, then hang
        "import os, sys, time\nos.write(int(sys.argv[2]), b'=1')\ntime.sleep(60)",
        "import time\ntime.sleep(60)",  # never reads its calls
        "import os\nos.close(0)\nimport time\ntime.sleep(60)",
    ],
)
def test_a_served_program_cannot_stall_its_caller(trick):
    program = f"def f(x):\n    {trick.replace(chr(10), chr(10) + '    ')}\n"
    start = time.perf_counter()
    with Session(program, "f", Limits(wall_seconds=1.5)) as session:
        assert session.ready
        with pytest.raises(CallFailed):
            session.call(["x" * 200_000], {})  # larger than a pipe's buffer
        with pytest.raises(CallFailed, match=r"time limit|exited|closed"):
            session.call([1], {})
    assert time.perf_counter() - start < 10


def test_large_stdin_is_fed_without_blocking_even_if_never_read():
    big = b"x" * (4 << 20)
    echoed = run("import sys\nprint(len(sys.stdin.buffer.read()))", big)
    assert echoed.stdout == b"4194304\n"
    start = time.perf_counter()
    ignored = run("import time\ntime.sleep(60)", big, limits=Limits(wall_seconds=1))
    assert ignored.timed_out and time.perf_counter() - start < 5


def test_refuses_an_interpreter_inside_a_replaced_directory(monkeypatch):
    from rewardsmith.sandbox import isolation

    monkeypatch.setattr(isolation, "_MODE", None)
    monkeypatch.setattr(isolation.sys, "base_prefix", "/tmp/python-3.11")
    assert "/tmp/python-3.11" in isolation.available() and isolation.mode() == ""
    monkeypatch.setattr(isolation, "_MODE", None)  # decided again for the other tests
