"""Discovering rewards from the command line: `components` (every registered component
by family), `explain NAME` (its parameters and a minimal YAML example that builds) and
`schema` (a JSON Schema of the reward YAML format, for editors)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.markup import escape

from rewardsmith.catalog import example, families, parameters, reward_file_schema
from rewardsmith.core.config import REGISTRY, did_you_mean

errors = Console(stderr=True, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the discovery commands to `app`."""
    app.command()(components)
    app.command()(explain)
    app.command()(schema)


def components() -> None:
    """List every reward component, one line each, grouped by family."""
    for family, members in families().items():
        typer.echo(family)
        for kind, summary in members:
            typer.echo(f"  {kind:<20} {summary}")
    typer.echo("\nrewardsmith explain NAME: the parameters and a YAML example of one")


def explain(
    name: Annotated[str, typer.Argument(help="A component name (see `rewardsmith components`).")],
) -> None:
    """Show a component's parameters (type, default, description) and a YAML example."""
    if name not in REGISTRY:
        hint = did_you_mean(name, REGISTRY)
        errors.print(
            f"[red]error:[/] unknown component {escape(repr(name))}{escape(hint)} "
            "(`rewardsmith components` lists them)",
            highlight=False,
        )
        raise typer.Exit(2)
    cls = REGISTRY[name]
    typer.echo(f"{name} ({cls.__module__})\n\n{inspect.cleandoc(cls.__doc__ or '')}\n")
    typer.echo("parameters:")
    for field, kind, default, note in parameters(cls):
        typer.echo(f"  {field}: {kind} = {default}")
        if note:
            typer.echo(f"      {note}")
    typer.echo("\nexample (a reward file; `rewardsmith score ... -r FILE`):")
    text = yaml.safe_dump({"reward": example(name)}, sort_keys=False)
    typer.echo(text, nl=False)


def schema(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the schema here (default: stdout)."),
    ] = None,
) -> None:
    """Write a JSON Schema of reward YAML files, e.g. for the YAML extension of an editor
    (`# yaml-language-server: $schema=rewardsmith.schema.json`)."""
    text = json.dumps(reward_file_schema(), indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n")
        errors.print(f"wrote {output}", highlight=False)
