"""The sandbox's `userns` mode, for real: hostile programs run by a driver
(userns_driver.py) started as `nobody` with the system interpreter of the same Python
version, so that the runner is not root and must isolate with unprivileged user
namespaces. Each attack fails, the driver itself could have done what the sandbox
refuses, and no process of the runs survives them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rewardsmith.sandbox.runner import SCRATCH_DIRS

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DRIVER = HERE / "userns_driver.py"
SOURCES = REPO / "src"
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])  # built for this Python version
PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
NOBODY = 65534
SECRET = "hunter2-rewardsmith-token"
MARKER = f"rs-mark-{secrets.token_hex(3)}"  # this test run's own, as other runs may be on


def _traversable(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o005 == 0o005 for p in (path, *path.parents))


def _why_not() -> str:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs Linux and root, to run a driver as another user"
    if shutil.which("setpriv") is None or not PYTHON.exists():
        return f"needs setpriv and {PYTHON}"
    if not all(map(_traversable, (SOURCES, SITE_PACKAGES, HERE))):
        return "the sources or site-packages are not readable by other users"
    return ""


pytestmark = pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "can run")


def driver_processes(name: str) -> set[int]:
    """Processes of `nobody` on the host named `name` (the alias of the interpreter one
    driver runs, so its runs' processes, not those of other tests on the host), zombies
    included: an orphaned init of a run would be left to a reaper that may never reap
    it (this machine's PID 1 does not)."""
    found = set()
    for entry in os.scandir("/proc"):
        try:
            if not entry.name.isdigit() or entry.stat().st_uid != NOBODY:
                continue
            if Path(entry.path, "comm").read_text().strip() == name:
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def marked_processes() -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and Path(entry.path, "comm").read_text().strip() == MARKER:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def drive(
    cases: list[dict], home: Path | None = None, python: Path = PYTHON, **request: object
) -> dict:
    """Run `cases` through the driver as `nobody`; check the common guarantees."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": f"{SOURCES}{os.pathsep}{SITE_PACKAGES}",
        "HOME": str(home or "/nonexistent"),
        "REWARDSMITH_SECRET_TOKEN": SECRET,
    }
    name = f"rs-{secrets.token_hex(4)}"  # the command name of every process it starts
    with tempfile.TemporaryDirectory(prefix=".userns-python-", dir=HERE) as folder:
        Path(folder).chmod(0o755)
        alias = Path(folder, name)
        alias.symlink_to(python)
        done = subprocess.run(
            [
                "setpriv",
                f"--reuid={NOBODY}",
                f"--regid={NOBODY}",
                "--clear-groups",
                alias,
                "-P",
                DRIVER,
            ],
            input=json.dumps({"cases": cases, **request}),
            capture_output=True,
            text=True,
            env=env,
            cwd="/",
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["euid"] == NOBODY
    if not request.get("deny_user_namespaces"):
        assert (report["mode"], report["available"]) == ("userns", "")
        warned = [] if request.get("refuse_weaker") else ["WeakerIsolationWarning"]
        categories = [w["category"] for w in report["warnings"]]
        assert [c for c in categories if c == "WeakerIsolationWarning"] == warned
    assert driver_processes(name) == set()  # nothing of the runs outlives the driver
    assert marked_processes() == []
    return report


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A world-writable directory outside /tmp, /var/tmp and /dev/shm (which the sandbox
    replaces anyway): only the read-only mounts can keep programs from writing there."""
    scratch = any(HERE.is_relative_to(d) for d in SCRATCH_DIRS)  # e.g. a clone in /tmp
    path = Path(tempfile.mkdtemp(prefix=".userns-test-", dir="/var/lib" if scratch else HERE))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def test_userns_runs_programs_and_sessions_and_warns_once():
    program = "import os\nprint(input()[::-1], os.getuid(), os.getpid())\n"
    served = (
        "def f(x, scale=1):\n"
        "    if x == 'boom':\n"
        "        raise ValueError(x)\n"
        "    return [x] * scale\n"
    )
    report = drive(
        [
            {"kind": "run", "program": program, "stdin": "abc\n"},
            {"kind": "run", "program": program, "stdin": "xyz\n"},
            {
                "kind": "session",
                "program": served,
                "entry_point": "f",
                "calls": [[[2], {"scale": 3}], [["boom"], {}], [["a"], {}]],
            },
        ]
    )
    first, second, session = report["results"]
    # uid 1000 inside the user namespace; PID 1 (the init) of its own PID namespace
    assert (first["exit_code"], first["stdout"]) == (0, "cba 1000 1\n")
    assert second["stdout"] == "zyx 1000 1\n"
    assert session["ready"]
    assert session["answers"] == [["ok", [2, 2, 2]], ["failed", "raised ValueError"], ["ok", ["a"]]]
    (warning,) = [w for w in report["warnings"] if w["category"] == "WeakerIsolationWarning"]
    # one warning for all the runs, naming what is weaker
    for weaker in ("run as this user", "supplementary groups"):
        assert weaker in warning["message"]


def test_userns_suites_run_each_test_alone_and_cannot_forge_or_stop_the_rest():
    double = "import os, sys\nprint(2 * int(sys.stdin.readline()), os.getuid())\n"
    forge = (
        "import os\nreached = 0\n"
        "for target in [*range(3, 64), *(f'/proc/{os.getppid()}/fd/{n}' for n in range(64))]:\n"
        "    try:\n"
        "        fd = target if isinstance(target, int) else os.open(target, os.O_WRONLY)\n"
        "        os.write(fd, b'FORGED')\n"
        "        reached += 1\n"
        "    except OSError:\n"
        "        pass\n"
        "print('reached', reached)\n"
    )
    killer = "import os, signal, sys\nif input() == 'kill':\n    os.kill(-1, 9)\nprint('ok')\n"
    report = drive(
        [
            {"kind": "suite", "program": double, "inputs": ["1\n", "2\n", "x\n", "3\n"]},
            {"kind": "suite", "program": forge, "inputs": ["", ""]},
            {"kind": "suite", "program": killer, "inputs": ["a\n", "kill\n", "b\n"]},
        ]
    )
    doubled, forged, killed = (result["tests"] for result in report["results"])
    assert [test[1] for test in doubled] == ["2 1000\n", "4 1000\n", "", "6 1000\n"]
    assert doubled[2][0] == 1  # the ValueError, as python exits on it
    assert forged == [[0, "reached 0\n"]] * 2
    assert [test[1] for test in killed] == ["ok\n", "", "ok\n"]


def test_userns_no_network_even_to_a_loopback_listener(leak_target):
    listener, program = leak_target
    port = listener.getsockname()[1]
    report = drive([{"kind": "run", "program": program}], control={"connect": port})
    assert report["control"] == {"connect": True}  # the same user outside could connect
    (result,) = report["results"]
    assert result["exit_code"] != 0 and "Network is unreachable" in result["stderr"]
    connection, _ = listener.accept()  # the driver's own connection, and only that
    assert connection.recv(100) == b"control"
    connection.close()
    listener.settimeout(0.3)  # the program has ended: anything it sent would be queued
    with pytest.raises(TimeoutError):
        listener.accept()


def test_userns_cannot_write_outside_scratch(shared_dir):
    own = shared_dir / "control.txt"  # written by the driver, as the same user
    targets = [shared_dir / "pwned", "/etc/pwned", "/usr/lib/pwned", "/tmp/pwned", "/pwned"]
    program = (
        "import os\n"
        "open('scratch.txt', 'w').write('ok')\n"
        "written = []\n"
        f"for path in {[str(t) for t in targets]!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        written.append(path)\n"
        "    except OSError:\n"
        "        pass\n"
        "for attempt in (\n"
        f"    lambda: open({str(own)!r}, 'w'),\n"
        f"    lambda: os.chmod({str(own)!r}, 0o666),\n"
        f"    lambda: os.unlink({str(own)!r}),\n"
        f"    lambda: os.rename({str(own)!r}, {str(shared_dir / 'moved')!r}),\n"
        "):\n"
        "    try:\n"
        "        attempt()\n"
        "        written.append('own file changed')\n"
        "    except OSError as exc:\n"
        "        assert exc.strerror == 'No such file or directory', exc\n"  # not in its tree
        "print(os.getcwd(), open('scratch.txt').read(), written)\n"
    )
    report = drive([{"kind": "run", "program": program}], control={"write": str(own)})
    assert report["control"] == {"write": "control"}  # the driver could write there
    (result,) = report["results"]
    assert result["exit_code"] == 0, result["stderr"]
    # /tmp is the run's own tmpfs: writable there, gone afterwards; /usr/lib read-only
    assert result["stdout"] == "/tmp/work ok ['/tmp/pwned']\n"
    for path in targets:
        assert not os.path.exists(path)
    assert own.read_text() == "control" and sorted(os.listdir(shared_dir)) == ["control.txt"]


def test_userns_secrets_are_invisible(shared_dir):
    home = shared_dir / "home"  # the driver's home: private to it, like a real one
    home.mkdir()
    (home / "secret.txt").write_text(SECRET)
    for path in (home, home / "secret.txt"):
        os.chown(path, NOBODY, NOBODY)
    home.chmod(0o700)
    program = (
        "import os\n"
        "def read(path):\n"
        "    try:\n"
        "        return open(path, 'rb').read().decode(errors='replace')\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "def ls(path):\n"
        "    try:\n"
        "        return os.listdir(path)\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "print(sorted(os.environ))\n"
        "print(read('/proc/DRIVER_PID/environ'))\n"
        f"print(ls({str(home)!r}), read({str(home / 'secret.txt')!r}))\n"
        "print(sorted(p for p in os.listdir('/proc') if p.isdigit()), ls('/run'))\n"
    )
    report = drive(
        [{"kind": "run", "program": program}], home=home, control={"read": str(home / "secret.txt")}
    )
    assert report["control"] == {"read": SECRET}  # the driver itself can read it
    (result,) = report["results"]
    assert SECRET not in result["stdout"] + result["stderr"]
    assert result["stdout"].splitlines() == [
        "['HOME', 'LANG', 'PATH']",
        "FileNotFoundError",  # the driver is not in the fresh /proc at all
        "FileNotFoundError FileNotFoundError",  # the home is not in the run's tree
        "['1'] FileNotFoundError",  # only the program, the run's init; no /run at all
    ]


def test_userns_interpreter_in_the_hidden_home_stays_usable(shared_dir):
    """As with pyenv or conda: the home is hidden, the interpreter in it bound back."""
    home = shared_dir / "home"
    prefix = home / "python"
    (prefix / "bin").mkdir(parents=True)
    shutil.copy2(PYTHON, prefix / "bin")
    stdlib = subprocess.run(
        [PYTHON, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()  # that interpreter's own, e.g. /usr/lib/python3.11
    shutil.copytree(stdlib, prefix / "lib" / PYTHON.name, ignore=shutil.ignore_patterns("test"))
    (home / "secret.txt").write_text(SECRET)
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", home], check=True)
    home.chmod(0o700)
    program = (
        "import decimal, os, sys\n"  # decimal: an extension module from lib-dynload
        "print(sys.base_prefix, decimal.Decimal(1) / 4)\n"
        f"print(os.listdir({str(home)!r}))\n"
        "try:\n"
        "    open(os.path.join(sys.base_prefix, 'pwned'), 'w')\n"
        "except OSError as exc:\n"
        "    print(exc.strerror)\n"
    )
    report = drive(
        [{"kind": "run", "program": program}],
        home=home,
        python=prefix / "bin" / PYTHON.name,
        control={"read": str(home / "secret.txt")},
    )
    assert report["control"] == {"read": SECRET}
    (result,) = report["results"]
    assert result["stdout"].splitlines() == [
        f"{prefix} 0.25",
        "['python']",  # nothing else of the home
        "Read-only file system",
    ], result["stderr"]


def test_userns_cannot_regain_privileges():
    program = (
        "import ctypes, os, signal\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "def errno(ok):\n"
        "    return 'succeeded' if ok else os.strerror(ctypes.get_errno())\n"
        "def attempt(action):\n"
        "    try:\n"
        "        action()\n"
        "        return 'succeeded'\n"
        "    except OSError as exc:\n"
        "        return f'{type(exc).__name__} {exc.strerror}'\n"
        "print(errno(libc.unshare(0x10000000) == 0))\n"  # a nested user namespace
        "print(errno(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None) == 0))\n"
        "print(errno(libc.umount2(b'/tmp', 2) == 0))\n"
        "print(attempt(lambda: os.setuid(0)))\n"
        "print(attempt(lambda: os.kill(DRIVER_PID, signal.SIGKILL)))\n"
        "print(attempt(lambda: os.kill(-1, signal.SIGKILL)))\n"  # only its own namespace
        "os.kill(1, signal.SIGKILL)\n"  # the program is the init: ignored from inside
        "print('the program is still there')\n"
    )
    report = drive([{"kind": "run", "program": program}])
    (result,) = report["results"]
    assert result["stdout"].splitlines() == [
        "No space left on device",  # user.max_user_namespaces is 0 inside
        "Operation not permitted",
        "Operation not permitted",
        "OSError Invalid argument",  # uid 0 does not exist in the user namespace
        "ProcessLookupError No such process",  # the driver is outside its PID namespace
        "ProcessLookupError No such process",  # and nothing else is in it to kill
        "the program is still there",
    ]


def test_userns_infinite_loop_and_ignored_signals_are_killed_on_time():
    programs = [
        "while True: pass",
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(100)",
    ]
    report = drive(
        [{"kind": "run", "program": p, "limits": {"wall_seconds": 0.5}} for p in programs]
    )
    for result in report["results"]:
        assert result["timed_out"] and result["elapsed"] < 5


def test_userns_daemons_and_new_sessions_do_not_survive():
    daemon = (
        "import ctypes, os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        ctypes.CDLL(None).prctl(15, {MARKER.encode()!r}, 0, 0, 0)\n"  # PR_SET_NAME
        "        time.sleep(300)\n"
        "    os._exit(0)\n"
        "def seen():\n"  # the daemon, running, in the run's own /proc
        "    for pid in filter(str.isdigit, os.listdir('/proc')):\n"
        "        try:\n"
        f"            if open(f'/proc/{{pid}}/comm').read().strip() == {MARKER!r}:\n"
        "                return True\n"
        "        except OSError:\n"
        "            pass\n"
        "while not seen():\n"
        "    time.sleep(0.01)\n"
        "print('parent ' + ('exits' if SLEEP == 0 else 'hangs'), flush=True)\n"
        "time.sleep(SLEEP)\n"
    )
    cases = [
        {"kind": "run", "program": daemon.replace("SLEEP", "0"), "marker": MARKER},
        {
            "kind": "run",
            "program": daemon.replace("SLEEP", "100"),
            "marker": MARKER,
            "limits": {"wall_seconds": 1},
        },
    ]
    exits, hangs = drive(cases)["results"]
    assert exits["stdout"] == "parent exits\n" and exits["marker_left"] == []
    assert hangs["stdout"] == "parent hangs\n" and hangs["timed_out"]
    assert hangs["marker_left"] == []  # gone as soon as the run ends, not only later
    # drive() checks that no process of nobody or named MARKER is left on the host


def test_userns_fork_and_memory_bombs_are_contained(outer_guard):
    bomb = (
        "import os, time\n"
        "n = 0\n"
        "for _ in range(10_000):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "        n += 1\n"
        "    except OSError:\n"
        "        break\n"
        "print(n)\n"
    )
    report = drive(
        [
            {"kind": "run", "program": bomb, "limits": {"processes": 16, "wall_seconds": 5}},
            {"kind": "run", "program": "blob = bytearray(8 << 30)", "limits": {"memory_mb": 512}},
            {"kind": "run", "program": "print('still fine')"},
        ]
    )
    forked, memory, after = report["results"]
    # RLIMIT_NPROC holds inside the user namespace, and counts as in root mode: the
    # program and 15 children (the waiter and the init are not the program's to use)
    assert int(forked["stdout"]) == 15
    assert memory["exit_code"] != 0 and "MemoryError" in memory["stderr"]
    assert after["stdout"] == "still fine\n"


def test_userns_latency_per_run():
    report = drive([{"kind": "repeat", "program": "print(1)", "times": 30}])
    seconds = report["results"][0]["seconds"]
    median = statistics.median(seconds)
    print(f"userns mode: median {median * 1000:.1f} ms per run over {len(seconds)} runs")
    assert median < 1.0


def test_refuses_without_root_or_user_namespaces():
    start = time.perf_counter()
    report = drive([{"kind": "run", "program": "print(1)"}], deny_user_namespaces=True)
    assert report["mode"] == ""
    assert "unprivileged user namespaces" in report["available"]
    assert "No space left on device" in report["available"]  # the kernel's own reason
    (result,) = report["results"]
    assert result == {"refused": "RuntimeError"}
    assert report["warnings"] == []
    assert time.perf_counter() - start < 30


def test_userns_mode_is_refused_when_its_warning_is_an_error():
    program = "print('ran')"
    report = drive([{"kind": "run", "program": program}] * 2, refuse_weaker=True)
    assert report["results"] == [{"refused": "WeakerIsolationWarning"}] * 2  # every run
