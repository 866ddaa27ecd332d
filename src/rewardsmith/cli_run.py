"""The scoring loop of `rewardsmith score`: whole groups in batches, each line written
(in input order) as soon as it and every line before it are scored, a progress bar on
a terminal (samples, rate, ETA), and Ctrl-C that stops without a torn line.

A reward whose groups are scored independently is run in chunks (FIRST_CHUNK samples,
then larger while chunks are quick) so that the bar and the output move; a batch-wide
reward (batch
statistics, state the batch writes) and batch-whitened advantages (reinforce_pp) get
whole `--batch-size` batches, as before.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from types import FrameType
from typing import Any, Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from rewardsmith.adapters.verl import token_level_rewards
from rewardsmith.advantage.estimators import compute_advantages
from rewardsmith.cli_input import Line, Problems
from rewardsmith.core.pipeline import group_key
from rewardsmith.core.types import DenseReward, Group, Score, Status
from rewardsmith.report.reasons import reason_text, reasons
from rewardsmith.report.summary import BatchSummary

# The first chunk of samples scored at once (progress and output advance chunk by
# chunk); a chunk scored in under CHUNK_SECONDS doubles the next, up to --batch-size, so
# fast rewards get the throughput of large batches and slow ones stay responsive.
FIRST_CHUNK = 256
CHUNK_SECONDS = 1.0
WHOLE_BATCH_ADVANTAGES = ("reinforce_pp", "reinforce_pp_baseline")


class GroupScorer(Protocol):
    """What `score` needs of a backend: a Reward (local) or a RayScorer."""

    batch_wide: bool

    def score_groups(self, groups: list[Group]) -> list[list[Score]]: ...

    def usage(self) -> dict[str, float]: ...


def _rate(task: Task) -> float | None:
    """Samples per second since the start: chunks finish in bursts, so a rate over the
    last moments (rich's own estimate) would swing between 0 and many thousands."""
    elapsed = task.elapsed
    return task.completed / elapsed if task.completed and elapsed else None


class RateColumn(ProgressColumn):
    """Samples per second so far."""

    def render(self, task: Task) -> Text:
        rate = _rate(task)
        return Text(f"{rate:,.1f} samples/s" if rate else "– samples/s")


class EtaColumn(ProgressColumn):
    """Time left at the rate so far."""

    def render(self, task: Task) -> Text:
        rate = _rate(task)
        if task.total is None or not rate:
            return Text("ETA -:--:--")
        left = round(max(task.total - task.completed, 0) / rate)
        return Text(f"ETA {left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}")


@dataclass
class Run:
    """One `score` run over parsed lines, writing to `out` as it goes."""

    lines: list[Line]
    out: TextIO
    summary: BatchSummary
    problems: Problems
    advantage: str | None = None
    dense_format: str = "step"
    timings: bool = False  # write each sample's `info.seconds`
    written: int = 0
    scored: dict[int, Score] = field(default_factory=dict)
    _writing: bool = False
    _stop: bool = False

    @property
    def samples(self) -> int:
        return sum(line.sample is not None for line in self.lines)

    def score(self, scorer: GroupScorer, batch_size: int, console: Console) -> None:
        """Score every sample and write every line; KeyboardInterrupt stops between
        lines (what was written stays whole)."""
        whole = scorer.batch_wide or self.advantage in WHOLE_BATCH_ADVANTAGES
        first = batch_size if whole else min(batch_size, FIRST_CHUNK)
        progress = Progress(
            TextColumn("scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            EtaColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        with self._interruptible(), progress:
            task = progress.add_task("scoring", total=self.samples)
            self._write_ready()
            for batch in _chunks(self._groups(), first, batch_size):
                built = [
                    Group(str(i), [self._sample(k) for k in members])
                    for i, members in enumerate(batch)
                ]
                for members, scores in zip(batch, scorer.score_groups(built), strict=True):
                    self._finish(members, scores)
                    progress.advance(task, len(members))
                self._write_ready()

    def _sample(self, index: int) -> Any:
        return self.lines[index].sample

    def _groups(self) -> list[list[int]]:
        """Line indices of the samples of each group, groups in order of first appearance."""
        groups: dict[str, list[int]] = {}
        for index, line in enumerate(self.lines):
            if line.sample is not None:
                groups.setdefault(group_key(line.sample), []).append(index)
        return list(groups.values())

    def _finish(self, members: list[int], scores: list[Score]) -> None:
        if self.advantage is not None:
            _add_advantages(scores, self.advantage)
        for index, score in zip(members, scores, strict=True):
            if self.dense_format == "token":
                _dense_per_token(self.lines[index], score)
            if score.status is not Status.OK:
                self._note(self.lines[index], score)
            self.scored[index] = score
        self.summary.add(scores)

    def _note(self, line: Line, score: Score) -> None:
        code = reasons(score)[0]
        error = reason_text(score)
        message = f"status {score.status}, {code}" + (f": {error}" if error else "")
        key = code if score.status is Status.INVALID else f"{score.status}:{code}"
        self.problems.add(key, "sample", message, line.number, line.record)

    def _write_ready(self) -> None:
        """Write the lines that are ready, in order, none of them torn by Ctrl-C."""
        self._writing = True
        while self.written < len(self.lines):
            line = self.lines[self.written]
            if line.sample is not None and self.written not in self.scored:
                break
            record = line.record
            if line.sample is not None:
                record = {**record, **_scored_fields(self.scored[self.written], self.timings)}
            _write_line(self.out, record)
            self.written += 1
        self.out.flush()
        self._writing = False
        if self._stop:
            raise KeyboardInterrupt

    @contextmanager
    def _interruptible(self) -> Iterator[None]:
        """SIGINT raises KeyboardInterrupt, except while lines are written: then after.
        A SIGINT the caller ignores (nohup, a background job) stays ignored."""
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            yield
            return

        def on_sigint(signum: int, frame: FrameType | None) -> None:
            if not self._writing:
                raise KeyboardInterrupt
            self._stop = True

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


def _chunks(groups: list[list[int]], first: int, most: int) -> Iterator[list[list[int]]]:
    """Whole groups in chunks of about `first` samples, each twice the last (up to
    `most`) while the caller scores a chunk in under CHUNK_SECONDS."""
    size, start = first, 0
    while start < len(groups):
        end, filled = start, 0
        while end < len(groups) and (filled < size or end == start):
            filled += len(groups[end])
            end += 1
        began = time.monotonic()
        yield groups[start:end]
        if time.monotonic() - began < CHUNK_SECONDS:
            size = min(2 * size, most)
        start = end


def _add_advantages(scores: list[Score], method: str) -> None:
    """Each sample's advantage within its group (see rewardsmith.advantage)."""
    result = compute_advantages([[score.value for score in scores]], method=method)
    for score, value in zip(scores, result.values[0], strict=True):
        score.info["advantage"] = {"method": method, "zero_variance": result.zero_variance[0]}
        score.advantage = value


def _dense_per_token(line: Line, score: Score) -> None:
    """Step spans -> one entry per token, each step's reward on its last token."""
    offsets = line.sample.token_offsets if line.sample is not None else None
    if score.dense is None or offsets is None:
        return
    per_token = token_level_rewards(score, len(offsets))
    score.dense = [
        DenseReward(start, end, reward, token, token + 1)
        for token, ((start, end), reward) in enumerate(zip(offsets, per_token, strict=True))
    ]


def _write_line(out: TextIO, record: dict[str, Any]) -> None:
    try:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    except UnicodeEncodeError:  # lone surrogates ("\\udc80" escapes): keep them escaped
        out.write(json.dumps(record) + "\n")


def _scored_fields(score: Score, timings: bool = False) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "reward": score.value,
        "components": score.components,
        "status": str(score.status),
        "info": score.info,
    }
    if score.advantage is not None:
        fields["advantage"] = score.advantage
    if score.dense is not None:
        fields["dense"] = [asdict(span) for span in score.dense]
    if timings and score.seconds is not None:  # beside the components' info
        fields["info"] = {**score.info, "seconds": round(score.seconds, 6)}
    return fields
