"""Runs sandbox cases as an unprivileged user, for test_unprivileged.py.

Started by the test as `nobody` with the system interpreter. It reads a JSON object on
stdin: `cases` (a list of `{"kind": "run" | "session" | "suite" | "repeat", ...}`), and optional
`control` checks to make as this same user *outside* the sandbox first (so the test
knows that whatever the sandbox then refuses would otherwise have worked), and
`deny_user_namespaces` to first enter a user namespace that allows no nested one (so
that neither sandbox mode can work), and `refuse_weaker` to make the sandbox's warning
about `userns` mode an error. It prints one JSON report. In programs,
`DRIVER_PID` is replaced by this process's pid.
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import sys
import time
import warnings
from pathlib import Path


def text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def processes_named(name: str) -> list[int]:
    """Live processes (not zombies) on the host whose command name is `name`."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            comm = Path(entry.path, "comm").read_text().strip()
            state = Path(entry.path, "stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if comm == name and state != b"Z":
            found.append(int(entry.name))
    return found


def control(checks: dict) -> dict:
    """What this user can do without the sandbox."""
    done = {}
    if "write" in checks:
        Path(checks["write"]).write_text("control")
        done["write"] = Path(checks["write"]).read_text()
    if "read" in checks:
        done["read"] = Path(checks["read"]).read_text()
    if "connect" in checks:
        with socket.create_connection(("127.0.0.1", checks["connect"]), timeout=2) as sock:
            sock.sendall(b"control")
        done["connect"] = True
    return done


def deny_user_namespaces() -> None:
    """Enter a user namespace (this uid mapped to itself) whose limit on nested ones is 0."""
    uid, gid = os.getuid(), os.getgid()
    if ctypes.CDLL(None, use_errno=True).unshare(0x10000000) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    Path("/proc/sys/user/max_user_namespaces").write_text("0")


def run_case(runner, case: dict) -> dict:
    limits = runner.Limits(**case.get("limits", {}))
    program = case.get("program", "").replace("DRIVER_PID", str(os.getpid()))
    if case["kind"] == "session":
        answers = []
        with runner.Session(program, case["entry_point"], limits) as session:
            for args, kwargs in case["calls"]:
                try:
                    answers.append(["ok", session.call(args, kwargs)])
                except runner.CallFailed as exc:
                    answers.append(["failed", str(exc)])
        return {"ready": session.ready, "answers": answers}
    if case["kind"] == "suite":
        with runner.Suite(program, limits) as suite:
            results = [suite.run(stdin.encode()) for stdin in case["inputs"]]
        return {"tests": [[r.exit_code, text(r.stdout)] for r in results]}
    if case["kind"] == "repeat":
        seconds = []
        for _ in range(case["times"]):
            started = time.perf_counter()
            result = runner.run(program, limits=limits)
            seconds.append(time.perf_counter() - started)
            assert result.exit_code == 0, result
        return {"seconds": seconds}
    started = time.perf_counter()
    result = runner.run(program, case.get("stdin", "").encode(), limits)
    done = {
        "exit_code": result.exit_code,
        "stdout": text(result.stdout),
        "stderr": text(result.stderr),
        "timed_out": result.timed_out,
        "output_capped": result.output_capped,
        "elapsed": time.perf_counter() - started,
    }
    if "marker" in case:  # right after the run: is anything of it still alive?
        done["marker_left"] = processes_named(case["marker"])
    return done


def main() -> None:
    request = json.load(sys.stdin)
    if request.get("deny_user_namespaces"):
        deny_user_namespaces()
    report: dict = {"euid": os.geteuid(), "control": control(request.get("control", {}))}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from rewardsmith.sandbox import runner

        if request.get("refuse_weaker"):
            warnings.simplefilter("error", runner.WeakerIsolationWarning)
        report["mode"], report["available"] = runner.mode(), runner.available()
        results = report["results"] = []
        for case in request["cases"]:
            try:
                results.append(run_case(runner, case))
            except (RuntimeError, runner.WeakerIsolationWarning) as exc:  # refused to run
                results.append({"refused": type(exc).__name__})
        runner.close_pools()
    report["warnings"] = [
        {"category": warning.category.__name__, "message": str(warning.message)}
        for warning in caught
    ]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
