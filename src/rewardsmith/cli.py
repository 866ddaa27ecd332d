"""The `rewardsmith` command line: score a JSONL dump of rollouts offline, and find out
what rewards there are (`components`, `explain NAME`, `schema`).

Exit status of `score` (see EXIT_STATUS): 0 every sample was scored (invalid input is
reported, but does not fail the run); 1 a sample ended with a status named by --fail-on
(default: error or timeout, i.e. the infrastructure failed: a judge unreachable, a
sandbox crashed, a time limit); 2 nothing could be done (bad reward config, bad option,
unreadable input); 130 interrupted (Ctrl-C): the lines scored so far are written, whole
and in input order.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Annotated, Any, NoReturn, TextIO

import typer
from rich.console import Console
from rich.markup import escape

from rewardsmith import cli_catalog
from rewardsmith.advantage.estimators import METHODS
from rewardsmith.api import load_reward
from rewardsmith.cli_input import Fields, Line, Problems, Reader, numbered_lines
from rewardsmith.cli_run import FIRST_CHUNK, GroupScorer, Run
from rewardsmith.cli_state import describe_store, state_url
from rewardsmith.core.config import ConfigError
from rewardsmith.report.summary import BatchSummary

app = typer.Typer(add_completion=False, no_args_is_help=True)
console = Console()
errors = Console(stderr=True, soft_wrap=True)
REWARD_HELP = "A component name (see `rewardsmith components`) or a YAML reward file."
EXIT_STATUS = """Exit status:

0: every sample was scored (invalid input is reported but does not fail the run).

1: a sample ended with a status named by --fail-on (default: error or timeout, i.e. \
the infrastructure failed: judge unreachable, sandbox crash, time limit).

2: nothing could be done (bad reward config, bad option, unreadable input).

130: interrupted (Ctrl-C); the lines scored so far are written, whole and in \
order."""


def _version(show: bool) -> None:
    if show:
        try:
            typer.echo(f"rewardsmith {version('rewardsmith')}")
        except PackageNotFoundError:
            typer.echo("rewardsmith (not installed: version unknown)")
        raise typer.Exit(0)


@app.callback()
def main(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """rewardsmith: rewards for RL post-training of language models."""


cli_catalog.register(app)


@app.command(epilog=EXIT_STATUS)
def score(
    input_path: Annotated[
        str, typer.Argument(help="JSONL rollouts, one sample per line; - for stdin.")
    ],
    reward: Annotated[str, typer.Option("--reward", "-r", help=REWARD_HELP)],
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="Where to write scored JSONL, line by line as scored; - for stdout "
            "(the summary and progress then go to stderr).",
        ),
    ],
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes for CPU-heavy checks.")
    ] = None,
    advantage: Annotated[
        str | None, typer.Option(help=f"Also write `advantage`: one of {', '.join(METHODS)}.")
    ] = None,
    batch_size: Annotated[
        int,
        typer.Option(
            min=1,
            help="Samples per scoring batch for batch-wide rewards and reinforce_pp "
            f"advantages; other rewards are scored in chunks of {FIRST_CHUNK} samples, "
            "doubled while a chunk takes under a second, up to this size.",
        ),
    ] = 4096,
    summary_json: Annotated[
        Path | None, typer.Option(help="Also write the summary as JSON here.")
    ] = None,
    dense_format: Annotated[
        str,
        typer.Option(
            help="How `dense` is written: step (one span per step) or token (one entry per "
            "completion token, the step's reward on its last token; needs token_offsets)."
        ),
    ] = "step",
    timings: Annotated[
        bool,
        typer.Option(
            "--timings",
            help="Also write `info.seconds`: the time each sample's own checks took (its "
            "sandbox run, its judge calls, its share of a worker pool), for the report's "
            "slowest samples.",
        ),
    ] = False,
    state: Annotated[
        str | None,
        typer.Option(
            help="Training-state store for adaptive rewards: memory://, sqlite:///PATH or "
            "redis://HOST:PORT/DB. Default: the reward file's `state`, else "
            "$REWARDSMITH_STATE, else a fresh store for this run only."
        ),
    ] = None,
    completion_field: Annotated[
        str, typer.Option(help="The field holding the completion (text or chat messages).")
    ] = "completion",
    reference_field: Annotated[
        str | None,
        typer.Option(
            help="The field holding the reference (default: reference, else answer, "
            "solution or ground_truth)."
        ),
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            help=f"Exit 1 when a sample ends with one of these statuses ({', '.join(FAILABLE)}; "
            "invalid includes unreadable lines), comma-separated; 'none' for never."
        ),
    ] = "error,timeout",
    backend: Annotated[
        str, typer.Option(help="local (this process and its workers) or ray (a Ray cluster).")
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="With --backend ray: the cluster (default $RAY_ADDRESS, else local)."),
    ] = None,
    ray_actors: Annotated[
        int | None,
        typer.Option(
            min=1, help="With --backend ray: Ray workers (default: the cluster's CPUs / --workers)."
        ),
    ] = None,
) -> None:
    """Score INPUT_PATH with a reward and write one output line per input line, in order."""
    if dense_format not in ("step", "token"):
        _fail(f"--dense-format: expected step or token, got {dense_format!r}")
    if advantage is not None and advantage not in METHODS:
        _fail(f"--advantage: unknown method {advantage!r}; allowed: {', '.join(METHODS)}")
    if backend not in BACKENDS:
        _fail(f"--backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "ray" and (ray_address is not None or ray_actors is not None):
        _fail("--ray-address / --ray-actors: only with --backend ray")
    failing = _fail_on(fail_on)
    reader = Reader(Fields(completion_field, reference_field))
    try:
        with _input(input_path) as stream:
            lines = [reader.read(number, raw) for number, raw in numbered_lines(stream)]
    except OSError as exc:
        _fail(f"{input_path}: cannot read: {exc}")
    with tempfile.TemporaryDirectory(prefix="rewardsmith-state-") as scratch:
        try:
            url, fresh = state_url(state, reward, backend, Path(scratch))
            scorer = _open_scorer(backend, reward, workers, url, ray_address, ray_actors)
        except ConfigError as exc:
            _fail(str(exc))
        _run(
            scorer,
            reader,
            lines,
            output,
            reward,
            failing,
            summary_json,
            batch_size,
            advantage,
            dense_format,
            describe_store(url, fresh),
            timings,
        )


def _run(
    scorer: GroupScorer,
    reader: Reader,
    lines: list[Line],
    output: str,
    reward: str,
    failing: set[str],
    summary_json: Path | None,
    batch_size: int,
    advantage: str | None,
    dense_format: str,
    store: str,
    timings: bool = False,
) -> None:
    """Score, write, summarise, and exit with the status the docstring promises."""
    to_stdout = output == "-"
    report = errors if to_stdout else console
    for message in [*reader.notices(), *reader.problems.lines()]:
        errors.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)
    invalid_lines = sum(line.sample is None for line in lines)
    summary = BatchSummary(
        invalid_lines=invalid_lines, output="stdout" if to_stdout else output, state=store
    )
    start = time.perf_counter()
    interrupted = False
    with scorer, _output(output) as out:
        run = Run(lines, out, summary, Problems(), advantage, dense_format, timings)
        try:
            run.score(scorer, batch_size, errors)
        except KeyboardInterrupt:
            interrupted = True
        summary.usage = scorer.usage()
    summary.seconds = time.perf_counter() - start
    for message in run.problems.lines():
        errors.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)
    report.print(summary.table(title=f"rewardsmith score · {reward}"))
    for place in summary.places():
        report.print(escape(place), soft_wrap=True, highlight=False)
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary.as_dict(), indent=2))
    if interrupted:
        held = sum(index >= run.written for index in run.scored)  # lines not yet written
        later = (
            f"; {held} later {'sample was' if held == 1 else 'samples were'} scored (in the "
            "summary) but not written, as a line before them was not"
            if held
            else ""
        )
        errors.print(
            f"[red]interrupted:[/] {run.written} of {len(lines)} lines scored and written "
            f"to {escape(summary.output)}{later}",
            highlight=False,
        )
        raise typer.Exit(INTERRUPTED)
    counts = {**summary.statuses, "invalid": summary.statuses["invalid"] + invalid_lines}
    raise typer.Exit(1 if any(counts.get(status) for status in failing) else 0)


def _scored_rows(path: Path) -> list[dict[str, Any]]:
    """A scored JSONL file's rows (exits naming the file and line on bad input)."""
    if not path.is_file():
        _fail(f"{path}: no such file")
    rows = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            _fail(f"{path}:{number}: not a JSON line")
        if not isinstance(row, dict):
            _fail(f"{path}:{number}: expected a JSON object (a scored sample)")
        rows.append(row)
    if not rows:
        _fail(f"{path}: no scored samples")
    return rows


@app.command("report")
def report_command(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Scored JSONL files (`rewardsmith score` outputs), in step order."),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="The HTML report to write.")],
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the report's numbers as JSON here.")
    ] = None,
    versus: Annotated[
        Path | None,
        typer.Option(
            "--versus",
            help="The last file's rollouts scored with another reward (same lines, same "
            "order): how much the two rewards disagree.",
        ),
    ] = None,
) -> None:
    """Write a reward-health report (one self-contained HTML page) for scored files."""
    from rewardsmith.report.health import report_numbers, rollout_mismatch

    try:
        from rewardsmith.report.html import render
    except ImportError as exc:
        _fail(f"report: needs matplotlib ({exc}): pip install 'rewardsmith[report]'")

    steps = [_scored_rows(path) for path in inputs]
    other = None
    if versus is not None:
        other = (str(versus), _scored_rows(versus))
        why = rollout_mismatch(steps[-1], other[1])
        if why:
            _fail(f"--versus {versus}: {why} of {inputs[-1]}")
    numbers = report_numbers(steps, [str(path) for path in inputs], other)
    output.write_text(render(numbers), encoding="utf-8")
    if json_path is not None:
        json_path.write_text(json.dumps(numbers, indent=1))
    console.print(f"report: {escape(str(output))}", highlight=False)


@app.command("probe-judge")
def probe_judge(
    reward: Annotated[
        str,
        typer.Option("--reward", "--config", "-r", help=REWARD_HELP),
    ],
    task: Annotated[
        str | None,
        typer.Option(
            help="Probe items: math, qa, choice, tool_call, ifeval or majority_vote "
            "(default: from the reward)."
        ),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON here.")
    ] = None,
) -> None:
    """Score hostile completions (master keys, hedges, shotguns, ...) that must get no reward."""
    from rewardsmith.judge.probes import TASKS, infer_task, run_probes

    if task is not None and task not in TASKS:
        _fail(f"--task: expected one of {', '.join(TASKS)}, got {task!r}")
    try:
        loaded = load_reward(reward, workers=1)
    except ConfigError as exc:
        _fail(str(exc))
    with loaded:
        task = task or infer_task(reward, loaded)
        if task is None:
            _fail(f"--task: cannot tell the task of {reward!r}; pass one of {', '.join(TASKS)}")
        report = run_probes(loaded, task)
    console.print(report.table(title=f"rewardsmith probe-judge · {reward} · {task}"))
    skipped = (
        f"; {report.pairwise_skipped} position-bias probes skipped (pointwise reward)"
        if report.position_bias is None
        else ""
    )
    console.print(
        f"control accuracy (correct responses rewarded): {report.tp_rate:.2f} "
        f"({report.control.accepted}/{report.control.n}){skipped}"
    )
    if json_path is not None:
        json_path.write_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    raise typer.Exit(0)


@app.command()
def serve(
    reward: Annotated[
        str,
        typer.Option("--reward", "-r", help=REWARD_HELP),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server worker processes.")] = 2,
    max_queue: Annotated[
        int, typer.Option(min=1, help="Scoring requests admitted per worker; beyond: 429.")
    ] = 32,
    max_body_bytes: Annotated[
        int, typer.Option(min=1024, help="Largest request body; beyond: 413.")
    ] = 16 << 20,
    deadline_seconds: Annotated[
        float, typer.Option(min=0.001, help="Time to answer a scoring request; beyond: 504.")
    ] = 60.0,
    token_env: Annotated[
        str | None,
        typer.Option(help="Require `Authorization: Bearer $VAR` (all but /healthz, /readyz)."),
    ] = None,
    group_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Gather one-sample requests into groups of this many (rollouts per prompt) "
            "and score each group once.",
        ),
    ] = None,
    group_wait_seconds: Annotated[
        float,
        typer.Option(min=0.001, help="With --group-size: score a group with what arrived after."),
    ] = 30.0,
    group_key: Annotated[
        str,
        typer.Option(
            help="With --group-size: 'group' (group_id, else prompt), 'prompt' or 'meta.<field>'."
        ),
    ] = "group",
    health: Annotated[
        bool,
        typer.Option(
            "--health",
            help="Record reward-health signals per training step (in the reward's state "
            "store) and export them on /metrics as rewardsmith_health.",
        ),
    ] = False,
) -> None:
    """Serve a reward over HTTP: OpenRLHF's /get_reward, /v1/score, /step, probes and
    /metrics."""
    from rewardsmith.adapters.gather import GatherSettings
    from rewardsmith.serve.run import serve as run_server

    try:
        gather = (
            None
            if group_size is None
            else GatherSettings(size=group_size, wait_seconds=group_wait_seconds, key=group_key)
        )
        run_server(
            reward,
            host,
            port,
            workers,
            max_queue,
            max_body_bytes,
            deadline_seconds,
            token_env,
            gather,
            health,
        )
    except ValueError as exc:  # a ConfigError, a token variable that is not set, bad gathering
        _fail(str(exc))


BACKENDS = ("local", "ray")
FAILABLE = ("error", "timeout", "invalid", "unparseable")
INTERRUPTED = 130


def _fail_on(value: str) -> set[str]:
    """The statuses of --fail-on, checked."""
    names = {name.strip() for name in value.split(",") if name.strip()}
    if names == {"none"}:
        return set()
    unknown = sorted(names - set(FAILABLE))
    if unknown or not names:
        _fail(f"--fail-on: expected 'none' or some of {', '.join(FAILABLE)}, got {value!r}")
    return names


@contextmanager
def _input(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdin.buffer
        return
    with open(path, "rb") as stream:
        yield stream


@contextmanager
def _output(path: str) -> Iterator[TextIO]:
    if path == "-":
        yield sys.stdout
        return
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        stream = target.open("w", encoding="utf-8")
    except OSError as exc:
        _fail(f"--output: cannot write {path}: {exc}")
    with stream:
        yield stream


def _open_scorer(
    backend: str,
    reward: str,
    workers: int | None,
    state: str,
    ray_address: str | None,
    ray_actors: int | None,
) -> GroupScorer:
    """The reward, loaded here with its workers started, or spread over Ray workers."""
    if backend == "local":
        loaded = load_reward(reward, workers=workers, state=state)
        loaded.warm_up()
        return loaded
    from rewardsmith.dist import RayScorer

    return RayScorer(
        reward, actors=ray_actors, workers=workers or 1, state=state, address=ray_address
    )


def _fail(message: str) -> NoReturn:
    errors.print(f"[red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(2)
