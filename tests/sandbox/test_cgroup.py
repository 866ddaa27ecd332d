"""Whole-run limits: each run's processes share one cgroup, whose memory and process
limits bound the run as a whole, and which is gone after the run."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest

from rewardsmith.core.pipeline import Reward
from rewardsmith.sandbox import cgroup
from rewardsmith.sandbox.runner import Limits, Session, available, close_pools, run
from rewardsmith.sandbox.workers import warm_worker

pytestmark = pytest.mark.skipif(bool(available()), reason=available() or "sandbox available")
needs_cgroups = pytest.mark.skipif(bool(cgroup.decided()[1]), reason=cgroup.decided()[1] or "")

# four children each hold 150 MB (under the 512 MB each may map), then say so; the
# parent prints "held" if all four hold theirs at the same time (the kernel may kill one
# that had said so already to let another one allocate)
FOUR_CHILDREN = """
import os, time
ready, say = os.pipe()
children = []
for _ in range(4):
    child = os.fork()
    if child == 0:
        os.close(ready)
        block = b"x" * (150 << 20)
        os.write(say, b"1")
        time.sleep(30)
        os._exit(0)
    children.append(child)
os.close(say)
count = 0
while count < 4 and os.read(ready, 1):
    count += 1
time.sleep(0.2)
alive = [os.waitpid(child, os.WNOHANG)[0] == 0 for child in children]
print("held" if count == 4 and all(alive) else "not held", flush=True)
"""


def read(directory: Path, name: str) -> str:
    return (directory / name).read_text().strip()


@needs_cgroups
def test_a_run_is_in_its_own_cgroup_with_its_limits_emptied_after_and_removed_at_close():
    close_pools()
    worker = warm_worker(Limits(memory_mb=256, processes=8))
    directories = list(worker.cgroup.directories)
    try:
        assert len(directories) == (1 if cgroup.decided()[0] == "v2" else 2)
        limits = {
            name: read(d, name)
            for d in directories
            for name in ("pids.max", "memory.max", "memory.limit_in_bytes")
            if (d / name).exists()
        }
        assert limits["pids.max"] == str(8)
        assert limits.get("memory.max", limits.get("memory.limit_in_bytes")) == str(256 << 20)
        for directory in directories:
            assert str(worker.process.pid) in read(directory, "cgroup.procs").split()
    finally:
        worker.finish()
    # emptied and kept for this process's next run with the same limits, never shared
    # by two runs at once; removed when the pools close
    assert all(read(d, "cgroup.procs") == "" for d in directories)
    with Session("def f():\n    return 1", "f", Limits(memory_mb=256, processes=8)) as session:
        assert session.call((), {}) == 1
    close_pools()
    assert [d for d in directories if d.exists()] == []


@needs_cgroups
def test_memory_is_bounded_for_the_run_as_a_whole(outer_guard):
    each_fits = Limits(memory_mb=1024, wall_seconds=5)
    assert run(FOUR_CHILDREN, limits=each_fits).stdout == b"held\n"  # 600 MB in all
    result = run(FOUR_CHILDREN, limits=Limits(memory_mb=512, wall_seconds=5))
    assert result.stdout != b"held\n"  # 150 MB each is under 512, 600 MB is over


@needs_cgroups
def test_a_reward_is_zero_when_the_run_as_a_whole_is_over_its_memory(outer_guard):
    reference = {"tests": [{"input": "", "output": "held"}]}
    spec = {"type": "code", "limits": {"memory_mb": 512, "wall_seconds": 5}}
    with Reward.from_spec(spec) as reward:
        [score] = reward.score([{"completion": FOUR_CHILDREN, "reference": reference}])
    assert score.value == 0.0 and score.ok


@needs_cgroups
def test_a_fork_bomb_never_exceeds_the_runs_pids_max(outer_guard):
    bomb = (
        "import os, time\n"
        "while True:\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "    except OSError:\n"
        "        time.sleep(0.01)\n"
    )
    worker = warm_worker(Limits(processes=16, wall_seconds=5))
    [pids] = [d for d in worker.cgroup.directories if (d / "pids.max").exists()]
    try:
        worker.start(bomb, "script")
        deadline, peak = time.monotonic() + 1.5, 0
        while time.monotonic() < deadline:
            peak = max(peak, int(read(pids, "pids.current")))
    finally:
        worker.finish()
    assert peak == 16
    assert read(pids, "cgroup.procs") == ""
    close_pools()
    assert not pids.exists()


def test_without_cgroups_runs_keep_per_process_limits_and_it_is_said_once(monkeypatch, tmp_path):
    monkeypatch.setattr(cgroup, "CGROUP_ROOT", tmp_path / "no-cgroups")  # nothing writable
    monkeypatch.setattr(cgroup, "_DECIDED", None)
    monkeypatch.setattr(cgroup, "_WARNED", False)
    limits = Limits(memory_mb=128, wall_seconds=5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = run("print(len(bytearray(64 << 20)))", limits=limits)
        second = run("bytearray(256 << 20)", limits=limits)  # over RLIMIT_AS
    assert first.stdout == b"67108864\n"
    assert second.exit_code != 0 and b"MemoryError" in second.stderr
    [warning] = [w for w in caught if w.category is cgroup.NoCgroupWarning]
    assert "per process only" in str(warning.message)
    assert cgroup.run_cgroup(limits).directories == []


def test_on_a_v2_host_a_run_gets_one_cgroup_with_both_limits(monkeypatch, tmp_path):
    """The v2 layout, on a stand-in hierarchy (this host has v1): the kernel's own
    enforcement is what the tests above check wherever they run."""
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    own = tmp_path / "user.slice" / "trainer.scope"
    own.mkdir(parents=True)
    membership = tmp_path / "membership"
    membership.write_text("0::/user.slice/trainer.scope\n")
    monkeypatch.setattr(cgroup, "CGROUP_ROOT", tmp_path)
    assert cgroup.own_groups(membership) == {"": own}
    monkeypatch.setattr(cgroup, "own_groups", lambda: {"": own})
    made = cgroup._made(Limits(memory_mb=256, processes=8))
    (directory,) = made.directories
    assert directory.parent == own and directory.name.startswith(f"{cgroup.PREFIX}-")
    assert {name: read(directory, name) for name in ("memory.max", "pids.max")} == {
        "memory.max": str(256 << 20),
        "pids.max": str(8),
    }
    # set only where the kernel accounts swap (it would make the file)
    assert not (directory / "memory.swap.max").exists()


def test_on_a_v1_host_the_memory_and_pids_hierarchies_are_found(monkeypatch, tmp_path):
    membership = tmp_path / "membership"
    membership.write_text("12:pids:/a\n11:cpu,cpuacct:/b\n4:memory:/c\n1:name=systemd:/d\n")
    monkeypatch.setattr(cgroup, "CGROUP_ROOT", tmp_path)
    assert cgroup.own_groups(membership) == {
        "memory": tmp_path / "memory" / "c",
        "pids": tmp_path / "pids" / "a",
    }
