"""Writing to and reading from a run's non-blocking pipes, never past a deadline
(shared by `Session` and `Suite`): TimeoutError when the deadline passes,
ConnectionError when the run has closed its end."""

from __future__ import annotations

import os
import select
import time


def wait_ready(fd: int, event: int, deadline: float) -> None:
    """Return once `fd` is ready for `event` (select.POLLIN or POLLOUT), or has been
    closed at the other end. (`poll`: one system call, where an epoll selector makes
    and closes a descriptor for every wait.)"""
    remaining = deadline - time.monotonic()
    waiting = select.poll()
    waiting.register(fd, event)
    if remaining <= 0 or not waiting.poll(remaining * 1000):
        raise TimeoutError("time limit exceeded")


def write_all(fd: int, data: bytes, deadline: float) -> None:
    while data:
        wait_ready(fd, select.POLLOUT, deadline)
        try:
            data = data[os.write(fd, data) :]
        except BlockingIOError:
            continue
        except BrokenPipeError:
            raise ConnectionError("the program exited") from None


def read_some(fd: int, size: int, deadline: float) -> bytes:
    """Up to `size` bytes, at least one (ConnectionError at end of file)."""
    while True:
        wait_ready(fd, select.POLLIN, deadline)
        try:
            chunk = os.read(fd, size)
        except BlockingIOError:
            continue
        if not chunk:
            raise ConnectionError("the program closed its answers")
        return chunk


def read_exactly(fd: int, size: int, deadline: float) -> bytes:
    data = bytearray()
    while len(data) < size:
        data += read_some(fd, size - len(data), deadline)
    return bytes(data)
