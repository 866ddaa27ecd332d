"""The Makefile's install steps: `make demo` installs the core package only (the dev
extra again where it is installed and the requirements changed), `make test` the dev
extra (also after a demo), and neither installs twice. Runs make in a copy of
the Makefile with stub interpreters that record what they are asked to do."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
"""
FAKE_PYTHON = """#!/bin/sh
# python3.11 -m venv DIR: a venv whose tools only log their arguments
mkdir -p "$3/bin"
for tool in python pip rewardsmith ruff; do
    printf '%s' '{stub}' > "$3/bin/$tool"
    chmod +x "$3/bin/$tool"
done
echo "venv $3" >> "{log}"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    if shutil.which("make") is None:
        pytest.skip("no make")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "run_tests.sh").write_text('echo "run_tests" >> log\n')
    log = tmp_path / "log"
    python = tmp_path / "python3.11"
    python.write_text(FAKE_PYTHON.format(log=log, stub=STUB.format(log=log)))
    python.chmod(0o755)
    return tmp_path


def make(project: Path, target: str) -> list[str]:
    """The commands the stubs saw during `make TARGET`."""
    log = project / "log"
    log.write_text("")
    env = {**os.environ, "MAKEFLAGS": ""}
    subprocess.run(
        ["make", "-s", target, f"PYTHON={project / 'python3.11'}"],
        cwd=project,
        check=True,
        env=env,
        capture_output=True,
        timeout=60,
    )
    return log.read_text().splitlines()


DEV_INSTALL = [
    "pip install --quiet -e .[dev]",
    "pip install --quiet verl>=0.9.1,<0.10 kernels>=0.12,<0.13",
    "pip install --quiet --no-deps --upgrade --target .venv/verl-0.7.0 verl==0.7.0",
    "pip install --quiet --no-deps --upgrade --target .venv/openrlhf-0.11.2 openrlhf==0.11.2",
]


def installs(commands: list[str]) -> list[str]:
    return [c for c in commands if c.startswith(("venv", "pip install"))]


def test_demo_installs_the_core_then_test_adds_the_dev_extra(project):
    assert installs(make(project, "demo")) == [
        "venv .venv",
        "pip install --quiet --upgrade pip",
        "pip install --quiet -e .[report]",
    ]
    assert installs(make(project, "demo")) == []
    assert installs(make(project, "test")) == DEV_INSTALL
    assert installs(make(project, "test")) == []
    assert installs(make(project, "demo")) == []


def test_test_first_covers_the_demo(project):
    assert installs(make(project, "test"))[-len(DEV_INSTALL) :] == DEV_INSTALL
    assert installs(make(project, "demo")) == []
    # changed requirements: installed again, the dev extra where it was installed (the
    # core alone would move antlr4 back to 4.13 under verl), once
    os.utime(project / "pyproject.toml")  # now: newer than what the installs left
    assert installs(make(project, "demo")) == DEV_INSTALL
    assert installs(make(project, "test")) == []
    assert installs(make(project, "demo")) == []
