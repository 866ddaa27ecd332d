"""State outlives a store object and is shared by threads and processes without lost updates."""

from __future__ import annotations

import multiprocessing
import random
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from rewardsmith.state import StateStore, Update, open_store

if TYPE_CHECKING:
    from multiprocessing.synchronize import Barrier

RECORDS = 3
PER_WORKER = 300


def test_another_store_object_sees_the_data_and_it_survives_reopening(shared_url: str) -> None:
    with open_store(shared_url) as first, open_store(shared_url) as second:
        first.apply([Update("s", "p", add={"n": 2}, minimum={"lo": 1})])
        assert second.read("s", ["p"]) == {"p": {"n": 2.0, "lo": 1.0}}
        second.apply([Update("s", "p", add={"n": 1})])
        assert first.scan("s") == {"p": {"n": 3.0, "lo": 1.0}}
    with open_store(shared_url) as reopened:
        assert reopened.read("s", ["p"]) == {"p": {"n": 3.0, "lo": 1.0}}


def _updates(worker: int) -> list[Update]:
    """Worker `worker`'s updates: counts, integer-valued sums (exact in floats), extremes."""
    values = random.Random(worker).sample(range(-(10**6), 10**6), PER_WORKER)
    return [
        Update(
            "shared",
            f"r{i % RECORDS}",
            add={"n": 1, "sum": value},
            minimum={"lo": value},
            maximum={"hi": value},
        )
        for i, value in enumerate(values)
    ]


def _run(store: StateStore, worker: int) -> None:
    """Apply the worker's updates in batches of 1 to 4."""
    updates = _updates(worker)
    sizes = random.Random(-worker)
    while updates:
        size = sizes.randint(1, 4)
        store.apply(updates[:size])
        updates = updates[size:]


def _in_processes(target: Callable[..., None], args: list[tuple]) -> None:
    """Run target(*a, start) in a spawned process for each a; `start` is a shared barrier."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(args), timeout=60)
    workers = [context.Process(target=_aborting, args=(target, a, start)) for a in args]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * len(args)


def _aborting(target: Callable[..., None], args: tuple, start: Barrier) -> None:
    """target(*args, start), breaking the barrier on failure so that no worker waits forever."""
    try:
        target(*args, start)
    except BaseException:
        start.abort()
        raise


def _process(url: str, worker: int, start: Barrier) -> None:
    start.wait()
    with open_store(url) as store:
        _run(store, worker)


def _open_new_files(directory: str, files: int, start: Barrier) -> None:
    for i in range(files):
        start.wait()
        with open_store(f"sqlite:///{directory}/{i}.sqlite") as store:
            store.apply([Update("opened", "k", add={"n": 1})])


def _expected(workers: int) -> dict[str, dict[str, float]]:
    expected: dict[str, dict[str, float]] = {}
    for update in (update for worker in range(workers) for update in _updates(worker)):
        record = expected.setdefault(update.key, {"n": 0.0, "sum": 0.0})
        record["n"] += 1
        record["sum"] += update.add["sum"]
        record["lo"] = min(record.get("lo", update.minimum["lo"]), update.minimum["lo"])
        record["hi"] = max(record.get("hi", update.maximum["hi"]), update.maximum["hi"])
    return expected


def test_processes_never_lose_updates(shared_url: str) -> None:
    _in_processes(_process, [(shared_url, worker) for worker in range(4)])
    with open_store(shared_url) as store:
        assert store.scan("shared") == _expected(4)


def test_processes_opening_a_new_sqlite_file_at_once_all_succeed(tmp_path: Path) -> None:
    _in_processes(_open_new_files, [(str(tmp_path), 10)] * 6)
    for i in range(10):
        with open_store(f"sqlite:///{tmp_path}/{i}.sqlite") as store:
            assert store.read("opened", ["k"]) == {"k": {"n": 6.0}}


@pytest.fixture
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads every microsecond, so that an unguarded read-modify-write races."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("frequent_thread_switches")
def test_threads_never_lose_updates(store: StateStore) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def thread(worker: int) -> None:
        start.wait()
        try:
            _run(store, worker)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=thread, args=(worker,)) for worker in range(6)]
    for each in threads:
        each.start()
    for each in threads:
        each.join(timeout=120)
    assert errors == []
    assert store.scan("shared") == _expected(6)
