"""Programs that try to see the host or keep something between runs: files planted by
the test, other processes, SysV and POSIX shared memory, /run/lock, the scratch
directory, leftover processes, and an end-to-end reward hack that reads its own tests
from the dataset. Each attack fails in `root` mode (this test runs as root) and in
`userns` mode (through the unprivileged driver of test_unprivileged.py, where it can
run). Only what the test itself planted or started is looked at, so other rewardsmith
processes on the host do not matter.
"""

from __future__ import annotations

import ast
import ctypes
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rewardsmith import Reward
from rewardsmith.sandbox.runner import Limits, available, close_pools, mode, run
from tests.sandbox.test_unprivileged import _why_not, drive

HERE = Path(__file__).resolve().parent
MODES = [
    pytest.param(
        "root",
        marks=pytest.mark.skipif(mode() != "root", reason=available() or "not running as root"),
    ),
    pytest.param("userns", marks=pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "")),
]
IPC_CREAT, IPC_RMID = 0o1000, 0


def outputs(how: str, programs: list[str]) -> list[str]:
    """What each program printed, run one after the other in `how` mode."""
    if how == "root":
        results = [run(program) for program in programs]
        assert [r.exit_code for r in results] == [0] * len(programs), [r.stderr for r in results]
        return [r.stdout.decode() for r in results]
    report = drive([{"kind": "run", "program": program} for program in programs])
    assert [r["exit_code"] for r in report["results"]] == [0] * len(programs), report
    return [r["stdout"] for r in report["results"]]


EXIT_CODES = {
    "import sys\nprint('out')\nsys.exit(3)": 3,
    "raise ValueError": 1,
    "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\nprint('alive')": 0,
    "import os, signal\nos.kill(0, signal.SIGTERM)\nprint('alive')": 0,
    "import os\nos.abort()": -11,  # SIGABRT ignored, then abort() faults
    "import ctypes\nctypes.string_at(0)": -11,
    "while True: pass": -9,  # RLIMIT_CPU
}


@pytest.mark.parametrize("how", MODES)
def test_the_program_is_its_namespaces_init_with_the_same_exit_codes_in_both_modes(how):
    """As under nsjail, or Docker without --init: like any init, the program ignores the
    signals it sends itself, or its own process group, without a handler; faults and
    limits end it as usual, and nothing outside its namespace can be signalled."""
    limits = {"cpu_seconds": 1, "wall_seconds": 5}
    if how == "root":
        results = [run(program, limits=Limits(**limits)) for program in EXIT_CODES]
        codes = [result.exit_code for result in results]
        printed = [result.stdout.decode() for result in results]
    else:
        cases = [{"kind": "run", "program": p, "limits": limits} for p in EXIT_CODES]
        report = drive(cases)["results"]
        codes = [result["exit_code"] for result in report]
        printed = [result["stdout"] for result in report]
    assert codes == list(EXIT_CODES.values())
    assert printed[2:4] == ["alive\n"] * 2


def _visible(path: Path) -> bool:
    """Readable by any user on the host: only the sandbox can keep a program out."""
    return path.stat().st_mode & 0o004 and all(p.stat().st_mode & 0o001 for p in path.parents)


@pytest.fixture
def planted() -> Iterator[list[Path]]:
    """World-readable secrets in host directories: the host's /tmp and the repository."""
    token = secrets.token_hex(8)
    folders = [Path(tempfile.mkdtemp(prefix="rs-planted-", dir="/tmp")), HERE / f".rs-{token}"]
    folders[1].mkdir()
    files = []
    for folder in folders:
        folder.chmod(0o755)
        secret = folder / "secret.txt"
        secret.write_text(token)
        secret.chmod(0o644)
        assert _visible(secret)
        files.append(secret)
    try:
        yield files
    finally:
        for folder in folders:
            shutil.rmtree(folder)


READ = (
    "import os, sys\n"
    "def read(path):\n"
    "    try:\n"
    "        return open(path).read()\n"
    "    except OSError as exc:\n"
    "        return type(exc).__name__\n"
)


@pytest.mark.parametrize("how", MODES)
def test_host_files_are_not_in_the_tree(how, planted):
    program = READ + (
        f"print([read(p) for p in {[str(p) for p in planted]!r}])\n"
        "hosts = ('/work', '/home', '/run', '/srv', '/mnt', '/etc/passwd')\n"
        "print([os.path.exists(p) for p in hosts])\n"
        "print(sorted(os.listdir('/')), sorted(os.listdir('/tmp')))\n"
    )
    names, exist, listing = outputs(how, [program])[0].splitlines()
    assert names == str(["FileNotFoundError"] * len(planted))
    assert exist == str([False] * 6)
    top, scratch = listing.split("] [")
    # only the tree: mount points, system libraries, and where the interpreter lives
    allowed = {"dev", "etc", "lib", "lib32", "lib64", "proc", "tmp", "usr", "var"}
    assert set(ast.literal_eval(top + "]")) <= allowed | {sys.base_prefix.split("/")[1]}
    assert scratch == "'work']"


@pytest.mark.parametrize("how", MODES)
def test_proc_shows_only_the_run(how):
    program = READ + (
        "print(sorted(p for p in os.listdir('/proc') if p.isdigit()), os.getpid())\n"
        f"print(read('/proc/{os.getpid()}/cmdline'), os.uname().nodename)\n"
    )
    processes, cmdline = outputs(how, [program])[0].splitlines()
    assert processes == "['1'] 1"  # the program, the run's init, and nothing else
    assert cmdline == "FileNotFoundError sandbox"  # not this test's command line


UNCOVER = (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "MS_REMOUNT, MS_BIND, MNT_DETACH = 32, 4096, 2\n"
    "CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000\n"
    "def attack():\n"
    "    for name, attempt in {\n"
    "        'umount /proc': lambda: libc.umount2(b'/proc', MNT_DETACH),\n"
    "        'umount /usr/lib': lambda: libc.umount2(b'/usr/lib', MNT_DETACH),\n"
    "        'remount / rw': lambda: libc.mount(None, b'/', None, MS_REMOUNT, None),\n"
    "        'remount /usr/lib rw': lambda: libc.mount(\n"
    "            None, b'/usr/lib', None, MS_REMOUNT | MS_BIND, None),\n"
    "    }.items():\n"
    "        print(name, 'refused' if attempt() == -1 else 'done')\n"
    "    print(sorted(p for p in os.listdir('/proc') if p.isdigit()))\n"
    "    try:\n"
    "        open('/usr/lib/rs-planted', 'w')\n"
    "        print('wrote')\n"
    "    except OSError:\n"
    "        print('read-only')\n"
    "attack()\n"
    "# with capabilities of its own: a new user and mount namespace, where allowed\n"
    "if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0:\n"
    "    attack()\n"
)


@pytest.mark.parametrize("how", MODES)
def test_a_run_cannot_uncover_or_remount_the_tree_it_shares_with_other_runs(how):
    """The read-only tree is the template's, shared by its runs, and in `userns` mode the
    host's /proc lies under each run's fresh one: a run can neither unmount what covers
    it nor remount the tree writable, also not from a user namespace of its own (in
    `root` mode it may make one: the mounts it then holds are locked)."""
    lines = outputs(how, [UNCOVER])[0].splitlines()
    once = [
        "umount /proc refused",
        "umount /usr/lib refused",
        "remount / rw refused",
        "remount /usr/lib rw refused",
        "['1']",
        "read-only",
    ]
    assert lines in (once, once * 2), lines


def _shm_program(key: int, create: bool) -> str:
    """Create a SysV segment holding a word, or report whether one exists."""
    return (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.shmat.restype = ctypes.c_void_p\n"
        f"shm = libc.shmget({key}, 4096, {IPC_CREAT | 0o666 if create else 0})\n"
        "if shm < 0:\n"
        "    print('absent', os.strerror(ctypes.get_errno()))\n"
        "else:\n"
        "    at = libc.shmat(shm, None, 0)\n"
        + (
            "    ctypes.memmove(at, b'kept', 4)\n    print('created')\n"
            if create
            else "    print('found', ctypes.string_at(at, 4))\n"
        )
    )


@pytest.mark.parametrize("how", MODES)
def test_nothing_is_kept_between_runs(how):
    token = secrets.token_hex(6)
    key = int.from_bytes(secrets.token_bytes(3), "little") + 1
    paths = ["/tmp/work/kept", "/tmp/kept", "/var/tmp/kept", f"/dev/shm/rs-{token}"]
    first = (
        READ
        + (
            f"for path in {[*paths, f'/run/lock/rs-{token}']!r}:\n"
            "    try:\n"
            "        open(path, 'w').write('kept')\n"
            "    except OSError as exc:\n"
            "        print(path, type(exc).__name__)\n"
        )
        + _shm_program(key, create=True)
    )
    second = READ + f"print([read(p) for p in {paths!r}])\n" + _shm_program(key, create=False)
    wrote, kept = outputs(how, [first, second])
    assert wrote == f"/run/lock/rs-{token} FileNotFoundError\ncreated\n"
    assert kept == f"{['FileNotFoundError'] * len(paths)}\nabsent No such file or directory\n"
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.shmget(key, 0, 0) == -1  # nor did the segment reach the host's namespace
    for path in (f"/dev/shm/rs-{token}", f"/run/lock/rs-{token}"):
        assert not os.path.exists(path)


@pytest.mark.parametrize("how", MODES)
def test_a_leftover_process_does_not_survive_its_run(how):
    marker = f"rs-{secrets.token_hex(4)}"  # a process name only this test uses
    daemon = (
        "import ctypes, os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        ctypes.CDLL(None).prctl(15, {marker.encode()!r}, 0, 0, 0)\n"
        "        time.sleep(300)\n"
        "    os._exit(0)\n"
        "os.wait()\n"
        "time.sleep(0.2)\n"
        "print(len([p for p in os.listdir('/proc') if p.isdigit()]))\n"
    )
    look = "import os\nprint(sorted(p for p in os.listdir('/proc') if p.isdigit()))\n"
    started, later = outputs(how, [daemon, look])
    assert started == "2\n"  # the program and its daemon
    assert later == "['1']\n"
    for entry in Path("/proc").iterdir():
        try:
            assert not (entry.name.isdigit() and (entry / "comm").read_text().strip() == marker)
        except OSError:
            continue


CHEAT = (
    "import json, os\n"
    "for top in ROOTS:\n"
    "    for folder, dirs, files in os.walk(top):\n"
    "        if folder in ('/proc', '/sys', '/dev'):\n"
    "            dirs[:] = []\n"
    "        for name in files:\n"
    "            if name.endswith('.jsonl'):\n"
    "                try:\n"
    "                    for line in open(os.path.join(folder, name)):\n"
    "                        print(json.loads(line)['reference']['tests'][0]['output'])\n"
    "                except (OSError, ValueError, KeyError, IndexError, TypeError):\n"
    "                    pass\n"
)


def test_a_program_cannot_read_its_own_tests_from_the_dataset():
    """End to end through the `code` reward: the expected output is random and lives
    only in the dataset file; a program that finds that file would print it."""
    if mode() != "root":
        pytest.skip(available() or "not running as root")
    folder = Path(tempfile.mkdtemp(prefix=".rs-dataset-", dir=HERE))  # in the repository
    folder.chmod(0o755)
    try:
        expected = secrets.token_hex(16)
        reference = {"tests": [{"input": "", "output": expected}]}
        dataset = folder / "train.jsonl"
        dataset.write_text(json.dumps({"prompt": "print the answer", "reference": reference}))
        dataset.chmod(0o644)
        assert _visible(dataset)
        # without the sandbox, the program finds the file and prints the answer
        control = subprocess.run(
            [sys.executable, "-c", CHEAT.replace("ROOTS", repr([str(folder)]))],
            capture_output=True,
            text=True,
            check=True,
        )
        assert control.stdout == expected + "\n"
        cheats = [CHEAT.replace("ROOTS", repr(["/"])), CHEAT.replace("ROOTS", repr([str(folder)]))]
        samples = [{"completion": cheat, "reference": reference} for cheat in cheats]
        samples.append({"completion": f"print({expected!r})", "reference": reference})
        with Reward.from_spec({"type": "code"}) as reward:
            scores = reward.score(samples)
        assert [score.value for score in scores] == [0.0, 0.0, 1.0]  # an honest answer passes
        assert [score.status for score in scores] == ["ok"] * 3
    finally:
        shutil.rmtree(folder)
        close_pools()
