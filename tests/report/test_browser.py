"""The reward-health report as a person sees it: rendered by a real headless browser
(Debian's Chromium, started by the test), a screenshot taken, its plots counted in the
rendered page, and no script error in the browser's console. With
REWARDSMITH_UPDATE_SCREENSHOT=1 the screenshot also replaces docs/report.png, the one
the README shows."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("rewardsmith")
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None and os.environ.get("CI") != "true":
    pytest.skip("no chromium (scripts/run_tests.sh installs it as root)", allow_module_level=True)


def browser(*arguments: str) -> subprocess.CompletedProcess[str]:
    command = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
               "--hide-scrollbars", "--enable-logging=stderr", "--v=0", *arguments]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """The demo batch scored, then a later step whose completions got longer."""
    root = tmp_path_factory.mktemp("report")
    first = root / "step1.jsonl"
    subprocess.run([str(CLI), "score", str(ROOT / "examples" / "math_grpo.jsonl"), "--reward",
                    str(ROOT / "examples" / "math_pipeline.yaml"), "-o", str(first), "--timings"],
                   check=False, capture_output=True, timeout=600)  # fmt: skip
    rng = random.Random(0)
    later = []
    for line in first.read_text().splitlines():
        row = json.loads(line)
        row["completion"] += " Let me double-check." * rng.randint(5, 40)
        later.append(json.dumps(row))
    second = root / "step2.jsonl"
    second.write_text("\n".join(later) + "\n")
    page = root / "report.html"
    done = subprocess.run([str(CLI), "report", str(first), str(second), "-o", str(page)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return page


def test_the_browser_renders_every_plot_without_a_script_error(report):
    rendered = browser("--dump-dom", report.as_uri())
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    assert rendered.stdout.count("<svg") >= 4  # rewards, reasons, length, drift
    assert "<h2>Drift over steps</h2>" in rendered.stdout
    assert "<h2>Slowest samples</h2>" in rendered.stdout  # the later step kept info.seconds
    console = [line for line in rendered.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console


def test_a_screenshot_is_taken(report, tmp_path):
    shot = tmp_path / "report.png"
    taken = browser("--window-size=1200,2200", f"--screenshot={shot}", report.as_uri())
    assert taken.returncode == 0, taken.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 50_000  # a page with plots, not blank
    if os.environ.get("REWARDSMITH_UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copy(shot, ROOT / "docs" / "report.png")
