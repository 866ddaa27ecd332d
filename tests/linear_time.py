"""A time budget for parsers of untrusted text that holds on a loaded machine.

A parser is linear when a 100 KB adversarial input costs about as much as a plain scan of
100 KB. The budget is therefore measured in the same test run, on the same machine and
under the same load: `assert_linear(fn, text)` times `fn(text)` against a Python loop
over every character of `text` (the slowest linear scan there is) and fails when `fn`
takes more than `factor` such scans. A quadratic regex on 100 KB costs thousands of
scans, so the margin on both sides is wide; no absolute time is ever compared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

ADVERSARIAL_SIZE = 100_000  # characters


def _best_of(repeats: int, fn: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _scan(text: str) -> int:
    count = 0
    for char in text:
        if char == "\n":
            count += 1
    return count


def scan_seconds(text: str, repeats: int = 3) -> float:
    """Seconds one plain character scan of `text` takes on this machine now."""
    return max(_best_of(repeats, lambda: _scan(text)), 1e-9)


def linear_scans(fn: Callable[[str], Any], text: str, repeats: int = 3) -> float:
    """How many plain character scans of `text` one call of `fn(text)` costs (best of
    `repeats` for both, so a busy moment on the machine counts against neither)."""
    return _best_of(repeats, lambda: fn(text)) / scan_seconds(text, repeats)


def assert_linear(
    fn: Callable[[str], Any], text: str, factor: float = 50.0, repeats: int = 3
) -> None:
    """Fail unless `fn(text)` costs at most `factor` plain scans of `text`."""
    assert len(text) >= ADVERSARIAL_SIZE * 0.9, "adversarial inputs are about 100 KB"
    scans = linear_scans(fn, text, repeats)
    assert scans <= factor, f"{fn.__name__} took {scans:.0f} linear scans of the input"
