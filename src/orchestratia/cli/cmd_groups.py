"""``orchestratia groups``: concurrency groups (at most N of a group's tasks at once, fleet-wide)."""

from __future__ import annotations

from typing import Annotated

import typer

from . import render
from .common import client
from .errors import CliError, guard

app = typer.Typer(help="Concurrency groups: at most N tasks of a group run at once across all agents.",
                  no_args_is_help=True)


@app.command("set")
@guard
def set_(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The group (as given to tasks create --group)")],
    max_active: Annotated[int, typer.Option("--max", help="At most this many of its tasks assigned or running at once")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Set (or change) a group's limit; queued tasks of the group go as soon as it has room."""
    if max_active < 1:
        raise CliError("--max must be at least 1 (to stop a group's tasks, cancel them; to lift the limit, "
                       "orchestratia groups delete NAME)")
    with client() as hub:
        group = hub.set_group(name, max_active)
    if as_json:
        render.print_json(group)
        return
    render.success(f"Group {group.get('name')}: at most {group.get('max_active')} at once "
                   f"({group.get('active')} active, {group.get('queued')} queued).")


@app.command("list")
@guard
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List groups with a limit, and groups that tasks name without one."""
    with client() as hub:
        groups = hub.list_groups()
    if as_json:
        render.print_json(groups)
        return
    render.table(
        ["NAME", "MAX", "ACTIVE", "QUEUED"],
        ([g.get("name"), str(g["max_active"]) if g.get("max_active") is not None else "no limit",
          str(g.get("active", 0)), str(g.get("queued", 0))] for g in groups),
    )


@app.command("delete")
@guard
def delete(name: Annotated[str, typer.Argument(metavar="NAME", help="The group")]) -> None:
    """Remove a group's limit (its tasks keep the group name and may all run)."""
    with client() as hub:
        hub.delete_group(name)
    render.success(f"Group {name}: no limit now.")
