"""What each isolation layer of the sandbox costs, and how long a program waits for a
warm worker, measured in one run.

Each row scores the same trivial program (`print(1)`) `--runs` times, one after another,
with warm workers, and with one more layer switched off than the row above (the cgroup
per run, then the file tree, then the PID, IPC and UTS namespaces, then the network
namespace; a mount namespace always remains); then one bare `python -I -S -c` per run,
unsandboxed, one more test in a stdin/stdout suite (a fork, see sandbox/suite.py), and
the floor of any design that forks a process per run: an idle bare `python -I -S` that
forks a child per run, which prints and exits with `os._exit` (no isolation, no scorer).
The rows are measured in turn, `--rounds` times over, so that drifts in the machine's
load hit them alike. It prints the CPU per run (this process and everything it started,
from `getrusage`; the median of the rounds and their range), the wall-clock latency per
run (median and 90th percentile), and each layer's cost as the difference of medians to
the row below. Differences within the rows' ranges are noise.

    python bench/sandbox_costs.py [--runs 60] [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from unittest import mock

from rewardsmith.sandbox import cgroup, child
from rewardsmith.sandbox.runner import Limits, Suite, close_pools, run

PROGRAM = "print(1)"
ALL_LAYERS = child.ISOLATION_LAYERS


def cpu_seconds() -> float:
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


@contextlib.contextmanager
def isolation(layers: tuple[str, ...], with_cgroup: bool) -> Iterator[None]:
    """The sandbox with only these layers (warm workers restarted on both sides)."""
    close_pools()
    patches = [mock.patch.object(child, "ISOLATION_LAYERS", layers)]
    if not with_cgroup:
        patches.append(mock.patch.object(cgroup, "run_cgroup", lambda _: cgroup.RunCgroup([])))
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield
        close_pools()  # inside the patches: no worker of these layers outlives them


def timed(one_run: Callable[[], None], runs: int) -> list[float]:
    """Each run's wall seconds."""
    latencies = []
    for _ in range(runs):
        started = time.perf_counter()
        one_run()
        latencies.append(time.perf_counter() - started)
    return latencies


def sandboxed(layers: tuple[str, ...], with_cgroup: bool, runs: int) -> tuple[float, list[float]]:
    """CPU seconds per run and each run's wall seconds. The CPU is measured around the
    whole pool's life: the runs' CPU is counted once they, and whatever forked them,
    have been reaped (at `close_pools`)."""

    def one_run() -> None:
        assert run(PROGRAM).stdout == b"1\n"

    close_pools()
    before = cpu_seconds()
    with isolation(layers, with_cgroup):
        latencies = timed(one_run, runs)
    return (cpu_seconds() - before) / runs, latencies


def bare(runs: int) -> tuple[float, list[float]]:
    def one_run() -> None:
        subprocess.run([sys.executable, "-I", "-S", "-c", PROGRAM], check=True, capture_output=True)

    before = cpu_seconds()
    latencies = timed(one_run, runs)
    return (cpu_seconds() - before) / runs, latencies


def one_more_test(runs: int) -> tuple[float, list[float]]:
    """One suite's tests (its one isolation shared by all), measured the same way."""
    close_pools()
    before = cpu_seconds()
    with Suite(PROGRAM, Limits()) as suite:
        latencies = timed(lambda: _check(suite.run(b"").stdout), runs)
    close_pools()
    return (cpu_seconds() - before) / runs, latencies


# a bare interpreter forking `runs` children that print 1 on a pipe; each run's wall
# seconds on its stdout
FORKER = """
import os, sys, time
latencies = []  # printed at the end: a child must not inherit unflushed output
compile("warm = 1", "<warm-up>", "exec")  # as the template does
for _ in range(int(sys.argv[1])):
    started = time.perf_counter()
    read, write = os.pipe()
    if os.fork() == 0:
        os.dup2(write, 1)
        exec(compile("print(1)", "<run>", "exec"), {"__name__": "__main__"})
        sys.stdout.flush()
        os._exit(0)
    os.close(write)
    assert os.read(read, 16) == b"1\\n"
    os.close(read)
    os.wait()
    latencies.append(time.perf_counter() - started)
print(*latencies)
"""


def forked_bare(runs: int) -> tuple[float, list[float]]:
    """The fork floor: CPU per run of the forking interpreter and its children, less
    what starting that interpreter costs (a bare run, measured just before)."""
    start_cpu, _ = bare(1)
    before = cpu_seconds()
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", FORKER, str(runs)],
        check=True,
        capture_output=True,
        text=True,
    )
    latencies = [float(line) for line in done.stdout.split()]
    return (cpu_seconds() - before - start_cpu) / runs, latencies


def _check(stdout: bytes) -> None:
    assert stdout == b"1\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="runs per row and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    no_shared = tuple(layer for layer in ALL_LAYERS if layer not in ("pid", "ipc", "uts"))
    rows: dict[str, Callable[[int], tuple[float, list[float]]]] = {
        "sandbox, every layer": lambda n: sandboxed(ALL_LAYERS, True, n),
        "  without the cgroup per run": lambda n: sandboxed(ALL_LAYERS, False, n),
        "  and without the file tree": lambda n: sandboxed(
            tuple(layer for layer in ALL_LAYERS if layer != "tree"), False, n
        ),
        "  and without PID, IPC, UTS namespaces": lambda n: sandboxed(
            tuple(layer for layer in no_shared if layer != "tree"), False, n
        ),
        "  and without the network namespace": lambda n: sandboxed((), False, n),
        "bare `python -I -S`, unsandboxed": bare,
        "one more test in a suite (a fork)": one_more_test,
        "floor: a fork of an idle bare interpreter": forked_bare,
    }
    cpu: dict[str, list[float]] = {name: [] for name in rows}
    latencies: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(args.rounds):  # rows interleaved, so drifts in load hit them alike
        for name, measure in rows.items():
            seconds, each = measure(args.runs)
            cpu[name].append(seconds)
            latencies[name] += each
    print(
        f"`{PROGRAM}`, {args.rounds} rounds of {args.runs} runs per row, one after another, "
        "warm workers; CPU: median of the rounds (min-max)"
    )
    print(f"{'':<42}{'CPU ms/run':>11}{'(min-max)':>14}{'p50 ms':>9}{'p90 ms':>9}{'layer':>9}")
    names = list(rows)
    median = {name: statistics.median(values) for name, values in cpu.items()}
    for index, name in enumerate(names):
        layer = ""
        if index < 4:  # the sandbox rows above the last: what that row's layer adds
            layer = f"{(median[name] - median[names[index + 1]]) * 1000:+.2f}"
        spread = f"({min(cpu[name]) * 1000:.1f}-{max(cpu[name]) * 1000:.1f})"
        p50 = statistics.median(latencies[name]) * 1000
        p90 = statistics.quantiles(latencies[name], n=10)[-1] * 1000
        print(f"{name:<42}{median[name] * 1000:>11.2f}{spread:>14}{p50:>9.2f}{p90:>9.2f}{layer:>9}")


if __name__ == "__main__":
    main()
