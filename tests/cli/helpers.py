"""Running the `rewardsmith` command as a user does, and reading what it wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CLI = Path(sys.executable).with_name("rewardsmith")
SLOW_CLI = Path(__file__).with_name("slow_cli.py")


def run_cli(*args: str | Path, stdin: str | None = None, cwd: Path | None = None):
    return subprocess.run(
        [str(CLI), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        input=stdin,
        cwd=cwd,
    )


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def flat(text: str) -> str:
    """`text` with its line wrapping undone."""
    return " ".join(text.split())
