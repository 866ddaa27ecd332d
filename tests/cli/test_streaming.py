"""Long runs: stdin and stdout, a progress bar with rate and ETA on a terminal, output
written as it is scored (in chunks that grow while they are quick), and Ctrl-C leaving
whole lines and saying how many."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from rich.progress import Progress

from rewardsmith import cli_run
from tests.cli.helpers import SLOW_CLI, flat, read_jsonl, run_cli, write_rows

TERMINAL_VARS = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS")


def slow_rows(path: Path, n: int) -> Path:
    return write_rows(
        path, [{"completion": f"c{i}", "group_id": str(i), "id": i} for i in range(n)]
    )


def slow_command(source: Path, out: Path, seconds: float, *args: str) -> list[str]:
    return [
        sys.executable,
        str(SLOW_CLI),
        "score",
        str(source),
        "-r",
        str(sleepy_reward(source.parent, seconds)),
        "-o",
        str(out),
        "--workers",
        "1",
        *args,
    ]


def sleepy_reward(folder: Path, seconds: float) -> Path:
    path = folder / "sleepy.yaml"
    path.write_text(f"reward: {{type: sleepy, seconds: {seconds}}}\n")
    return path


def terminal_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TERMINAL_VARS}
    return {**env, "TERM": "xterm-256color"}


def test_stdin_to_stdout_keeps_stdout_for_the_scored_lines():
    rows = [{"completion": "\\boxed{2}", "reference": "2"}, {"completion": "x", "reference": "1"}]
    result = run_cli(
        "score",
        "-",
        "-r",
        "math",
        "-o",
        "-",
        "--workers",
        "1",
        stdin="".join(json.dumps(r) + "\n" for r in rows),
    )
    assert result.returncode == 0, result.stderr
    scored = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["reward"] for r in scored] == [1.0, 0.0]
    assert "rewardsmith score" in result.stderr and "output: stdout" in flat(result.stderr)
    assert not Path("-").exists()


def test_progress_bar_on_a_terminal_shows_count_rate_and_eta(tmp_path):
    source = slow_rows(tmp_path / "in.jsonl", 30)
    out = tmp_path / "out.jsonl"
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    process = subprocess.Popen(
        slow_command(source, out, 0.05, "--batch-size", "1"),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=terminal_env(),
        close_fds=True,
    )
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode("utf-8", "replace"))
    assert re.search(r"scoring .* \d+/30 ", text), text
    assert re.search(r"[\d.]+ samples/s", text), text
    assert re.search(r"ETA \d+:\d\d:\d\d", text), text
    assert len(read_jsonl(out)) == 30


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path):
    source = slow_rows(tmp_path / "in.jsonl", 3)
    result = subprocess.run(
        slow_command(source, tmp_path / "out.jsonl", 0.0),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "samples/s" not in result.stderr and "ETA" not in result.stderr


def interrupted_after_five_lines(source: Path, out: Path) -> tuple[str, str]:
    """Score `source` slowly, press Ctrl-C (SIGINT) once 5 lines are written; the run's
    stdout and stderr, after checking that it ended with status 130."""
    process = subprocess.Popen(
        slow_command(source, out, 0.02, "--batch-size", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a shell starts background jobs with SIGINT ignored, and a
        # test run may be one
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while (not out.exists() or out.read_text().count("\n") < 5) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    return stdout, stderr


def test_ctrl_c_leaves_the_scored_lines_whole_and_says_how_many(tmp_path):
    total = 400
    out = tmp_path / "out.jsonl"
    stdout, stderr = interrupted_after_five_lines(slow_rows(tmp_path / "in.jsonl", total), out)
    scored = read_jsonl(out)  # every line is whole JSON
    assert 5 <= len(scored) < total
    assert [r["id"] for r in scored] == list(range(len(scored)))  # a prefix, in order
    assert all(r["reward"] == 1.0 and r["status"] == "ok" for r in scored)
    assert f"interrupted: {len(scored)} of {total} lines scored and written to {out}" in flat(
        stderr
    )
    assert "Traceback" not in stderr
    assert f"{len(scored)}" in stdout  # the summary counts what was scored


def test_ctrl_c_says_which_scored_samples_were_held_back_to_keep_input_order(tmp_path):
    total = 400
    rows = [{"completion": f"c{i}", "group_id": str(i), "id": i} for i in range(total)]
    rows[-1]["group_id"] = "0"  # the last line is scored with the first, written last
    out = tmp_path / "out.jsonl"
    _, stderr = interrupted_after_five_lines(write_rows(tmp_path / "in.jsonl", rows), out)
    written = read_jsonl(out)
    assert [r["id"] for r in written] == list(range(len(written))) and len(written) < total
    held = "; 1 later sample was scored (in the summary) but not written, as a line"
    assert f"lines scored and written to {out}{held}" in flat(stderr)


def test_output_is_written_while_the_run_goes_on(tmp_path):
    source = slow_rows(tmp_path / "in.jsonl", 200)
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        slow_command(source, out, 0.02, "--batch-size", "1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while (not out.exists() or not out.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.poll() is None  # lines are there before the run ends
        assert json.loads(out.read_text().splitlines()[0])["id"] == 0
    finally:
        process.kill()
        process.wait()


class Clock:
    """A stand-in for `time.monotonic` that the consumer of the chunks moves on."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("seconds_per_chunk", "grows"), [(0.1, True), (5.0, False)])
def test_chunks_double_while_quick_and_keep_groups_whole(monkeypatch, seconds_per_chunk, grows):
    clock = Clock()
    monkeypatch.setattr(cli_run.time, "monotonic", clock)
    groups = [[3 * g, 3 * g + 1, 3 * g + 2] for g in range(1000)]  # 3000 samples
    sizes = []
    for chunk in cli_run._chunks(groups, first=256, most=1024):
        sizes.append(sum(len(members) for members in chunk))
        clock.now += seconds_per_chunk
    assert sum(sizes) == 3000
    if grows:
        assert sizes == [258, 513, 1026, 1026, 177]  # whole groups of 3: a little over
    else:
        assert sizes[:-1] == [258] * 11 and sizes[-1] == 3000 - 11 * 258


def test_rate_and_eta_are_over_the_whole_run_though_chunks_finish_in_bursts():
    clock = Clock()
    progress = Progress(get_time=clock)
    task_id = progress.add_task("scoring", total=1000)
    clock.now = 10.0
    progress.advance(task_id, 250)  # a chunk finishes at once after 10 s ...
    clock.now = 10.001
    progress.advance(task_id, 250)  # ... and the next a millisecond later
    clock.now = 20.0
    [task] = progress.tasks
    assert cli_run.RateColumn().render(task).plain == "25.0 samples/s"  # 500 in 20 s
    assert cli_run.EtaColumn().render(task).plain == "ETA 0:00:20"  # 500 more at 25/s
    empty = Progress(get_time=clock)
    empty.add_task("scoring", total=10)
    assert cli_run.RateColumn().render(empty.tasks[0]).plain == "– samples/s"
    assert cli_run.EtaColumn().render(empty.tasks[0]).plain == "ETA -:--:--"
