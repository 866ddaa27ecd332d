"""The `rewardsmith` command line: score a JSONL dump of rollouts offline.

Exit status: 0 when every line was scored, 1 when some input lines were invalid (they
are reported and written with status `invalid`; the rest is scored), 2 when nothing
could be done (bad reward config, unreadable input).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rewardsmith.adapters.verl import token_level_rewards
from rewardsmith.advantage.estimators import METHODS, compute_advantages
from rewardsmith.api import load_reward
from rewardsmith.core.config import ConfigError
from rewardsmith.core.pipeline import group_key, parse_sample
from rewardsmith.core.types import DenseReward, Group, Sample, Score
from rewardsmith.report.summary import BatchSummary

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console()
errors = Console(stderr=True, soft_wrap=True)


@app.callback()
def main() -> None:
    """rewardsmith: rewards for RL post-training of language models."""


@app.command()
def score(
    input_path: Annotated[Path, typer.Argument(help="JSONL rollouts, one sample per line.")],
    reward: Annotated[
        str,
        typer.Option("--reward", "-r", help="Built-in name (math, choice, qa, format) or YAML."),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write scored JSONL.")],
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes for CPU-heavy checks.")
    ] = None,
    advantage: Annotated[
        str | None, typer.Option(help=f"Also write `advantage`: one of {', '.join(METHODS)}.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Samples per scoring batch.")] = 4096,
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
    state: Annotated[
        str | None,
        typer.Option(
            help="Training-state store for adaptive rewards: memory://, sqlite:///PATH or "
            "redis://HOST:PORT/DB (default $REWARDSMITH_STATE, else .rewardsmith/state.sqlite)."
        ),
    ] = None,
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
    try:
        lines = input_path.read_bytes().splitlines()  # JSON strings hold no raw \n or \r
    except OSError as exc:
        _fail(f"{input_path}: cannot read: {exc}")
    try:
        scorer = _open_scorer(backend, reward, workers, state, ray_address, ray_actors)
    except ConfigError as exc:
        _fail(str(exc))

    start = time.perf_counter()
    records, samples, invalid = _read(lines)
    summary = BatchSummary(invalid_lines=len(invalid))
    for number, message in invalid:
        errors.print(f"[yellow]line {number}:[/] {escape(message)}", highlight=False)
    with scorer:
        groups = _group_indices(samples)
        scores = _score_all(scorer, samples, groups, batch_size, summary)
        summary.usage = scorer.usage()
    summary.seconds = time.perf_counter() - start
    if advantage is not None:
        _add_advantages(groups, scores, advantage)
    if dense_format == "token":
        _dense_per_token(samples, scores)
    _write(output, records, scores)
    console.print(summary.table(title=f"rewardsmith score · {reward}"))
    if summary_json is not None:
        summary_json.write_text(json.dumps(summary.as_dict(), indent=2))
    raise typer.Exit(1 if invalid else 0)


@app.command("probe-judge")
def probe_judge(
    reward: Annotated[
        str,
        typer.Option(
            "--reward", "--config", "-r", help="Built-in name (math, choice, qa) or YAML."
        ),
    ],
    task: Annotated[
        str | None,
        typer.Option(help="Probe items: math, qa or choice (default: from the reward)."),
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
        typer.Option("--reward", "-r", help="Built-in name (math, choice, qa, format) or YAML."),
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
        )
    except ValueError as exc:  # a ConfigError, a token variable that is not set, bad gathering
        _fail(str(exc))


BACKENDS = ("local", "ray")


class GroupScorer(Protocol):
    """What `score` needs of a backend: a Reward (local) or a RayScorer."""

    def score_groups(self, groups: list[Group]) -> list[list[Score]]: ...

    def usage(self) -> dict[str, float]: ...

    def __enter__(self) -> GroupScorer: ...

    def __exit__(self, *exc: object) -> None: ...


def _open_scorer(
    backend: str,
    reward: str,
    workers: int | None,
    state: str | None,
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


def _fail(message: str) -> None:
    errors.print(f"[red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(2)


def _read(
    lines: list[bytes],
) -> tuple[list[dict[str, Any]], dict[int, Sample], list[tuple[int, str]]]:
    """Output skeletons for every non-blank line, the valid samples by record index, errors."""
    records: list[dict[str, Any]] = []
    samples: dict[int, Sample] = {}
    invalid: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        data, sample, message = _parse_line(line)
        if sample is None:
            invalid.append((number, message))
            base = data if isinstance(data, dict) else {}
            error = {"reward": None, "status": "invalid", "info": {"error": message}}
            records.append({**base, "line": number, **error})
        else:
            samples[len(records)] = sample
            records.append(data)
    return records, samples, invalid


def _parse_line(line: bytes) -> tuple[Any, Sample | None, str]:
    try:
        data = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, None, f"not valid UTF-8 (byte {exc.start}: {exc.reason}); expected UTF-8 JSON"
    except json.JSONDecodeError as exc:
        return None, None, f"not valid JSON: {exc}"
    try:
        return data, parse_sample(data), ""
    except ValueError as exc:
        return data, None, str(exc)


def _group_indices(samples: dict[int, Sample]) -> list[list[int]]:
    """Record indices of the samples of each group, groups in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for index, sample in samples.items():
        groups.setdefault(group_key(sample), []).append(index)
    return list(groups.values())


def _score_all(
    scorer: GroupScorer,
    samples: dict[int, Sample],
    groups: list[list[int]],
    batch_size: int,
    summary: BatchSummary,
) -> dict[int, Score]:
    """Score whole groups in batches of about `batch_size` samples, with a progress bar."""
    batches: list[list[list[int]]] = [[]]
    filled = 0
    for members in groups:
        if filled >= batch_size:
            batches.append([])
            filled = 0
        batches[-1].append(members)
        filled += len(members)
    scores: dict[int, Score] = {}
    progress = Progress(
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not errors.is_terminal,
    )
    with progress:
        task = progress.add_task("scoring", total=len(samples))
        for batch in batches:
            built = [
                Group(group_id=str(i), samples=[samples[k] for k in m]) for i, m in enumerate(batch)
            ]
            for members, group_scores in zip(batch, scorer.score_groups(built), strict=True):
                scores.update(zip(members, group_scores, strict=True))
                summary.add(group_scores)
                progress.advance(task, len(members))
    return scores


def _add_advantages(groups: list[list[int]], scores: dict[int, Score], method: str) -> None:
    """Write each sample's advantage within its group (see rewardsmith.advantage)."""
    result = compute_advantages([[scores[i].value for i in m] for m in groups], method=method)
    for indices, values, flat in zip(groups, result.values, result.zero_variance, strict=True):
        for index, value in zip(indices, values, strict=True):
            scores[index].info["advantage"] = {"method": method, "zero_variance": flat}
            scores[index].advantage = value


def _dense_per_token(samples: dict[int, Sample], scores: dict[int, Score]) -> None:
    """Step spans -> one entry per token, each step's reward on its last token."""
    for index, score in scores.items():
        offsets = samples[index].token_offsets
        if score.dense is None or offsets is None:
            continue
        per_token = token_level_rewards(score, len(offsets))
        score.dense = [
            DenseReward(start, end, reward, token, token + 1)
            for token, ((start, end), reward) in enumerate(zip(offsets, per_token, strict=True))
        ]


def _write(path: Path, records: list[dict[str, Any]], scores: dict[int, Score]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for index, record in enumerate(records):
            if index in scores:
                record = {**record, **_scored_fields(scores[index])}
            try:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            except UnicodeEncodeError:  # lone surrogates ("\\udc80" escapes): keep them escaped
                out.write(json.dumps(record) + "\n")


def _scored_fields(score: Score) -> dict[str, Any]:
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
    return fields
