"""``orchestratia pipelines``: run a file of tasks with ``needs:``, list, show, cancel.

The file is sent as it is; the hub reads and checks it (docs/scheduling.md, "Dependencies and
pipelines") and says what is wrong, naming the task and its line; nothing is created then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from . import render
from .client import HubClient
from .common import client, short_id
from .errors import CliError, guard

app = typer.Typer(help="Pipelines: run a file of tasks that need each other, list, show, cancel.",
                  no_args_is_help=True)


def resolve_pipeline_id(hub: HubClient, value: str) -> str:
    """A full pipeline id from a full id or a unique prefix of one (at least 4 characters)."""
    value = value.strip().lower()
    if len(value) == 36:
        return value
    if len(value) < 4:
        raise CliError(f"pipeline id {value!r} is too short: give at least 4 characters (see `orchestratia pipelines list`)")
    matches = [str(p["id"]) for p in hub.list_pipelines(limit=500) if str(p.get("id", "")).startswith(value)]
    if len(matches) != 1:
        raise CliError(f"{'no' if not matches else len(matches)} pipeline ids start with {value!r}: "
                       "see `orchestratia pipelines list`")
    return matches[0]


@app.command("run")
@guard
def run(
    file: Annotated[Path, typer.Argument(metavar="FILE.yaml", help="The pipeline file (see docs/examples/pipeline.yaml)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (has `id` and `nodes`)")] = False,
) -> None:
    """Create a pipeline's tasks: each starts once every task it needs has completed."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {file}: {exc}") from exc
    with client() as hub:
        try:
            made = hub.create_pipeline({"yaml": text, "name": file.stem})
        except CliError as exc:  # "FILE: pipeline not created: task 'b' (line 4) needs 'c', ..."
            message = exc.message.split(": ", 1)[1] if exc.status == 422 else exc.message
            raise CliError(f"{file}: {message}", exc.exit_code, exc.status) from exc
    if as_json:
        render.print_json(made)
        return
    _print_pipeline(made)
    render.info(f"Follow it with: orchestratia pipelines show {short_id(made.get('id'))}")


@app.command("list")
@guard
def list_(
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List pipelines, newest first, with their members per status."""
    with client() as hub:
        found = hub.list_pipelines(limit=limit)
    if as_json:
        render.print_json(found)
        return
    rows = [(short_id(p.get("id")), p.get("name"), render.status_text(p.get("status")),
             ", ".join(f"{n} {s}" for s, n in sorted((p.get("counts") or {}).items())),
             render.short_time(p.get("created_at"))) for p in found]
    render.table(["ID", "NAME", "STATUS", "TASKS", "CREATED"], rows)


@app.command("show")
@guard
def show(
    pipeline_id: Annotated[str, typer.Argument(metavar="ID", help="Pipeline id (or a unique prefix)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Show a pipeline: each task with its status and what it needs, in need order."""
    with client() as hub:
        found = hub.get_pipeline(resolve_pipeline_id(hub, pipeline_id))
    if as_json:
        render.print_json(found)
        return
    _print_pipeline(found)


@app.command("cancel")
@guard
def cancel(
    pipeline_id: Annotated[str, typer.Argument(metavar="ID", help="Pipeline id (or a unique prefix)")],
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why (stored with each task cancelled)")] = None,
) -> None:
    """Cancel every task of the pipeline that has not ended (running ones are stopped)."""
    with client() as hub:
        found = hub.cancel_pipeline(resolve_pipeline_id(hub, pipeline_id), reason)
    render.success(f"Pipeline {found.get('name')} is {found.get('status')}.")


def _print_pipeline(p: dict[str, Any]) -> None:
    render.details([("id", p.get("id")), ("name", p.get("name")), ("status", render.status_text(p.get("status"))),
                    ("cancelled", p.get("cancel_reason"))])
    rows = [(n.get("depth"), n.get("name"), short_id(n.get("task_id")), render.status_text(n.get("status")),
             ", ".join(n.get("needs") or []), n.get("cancel_reason") if n.get("status") == "cancelled" else "")
            for n in p.get("nodes") or []]
    render.table(["LEVEL", "TASK", "ID", "STATUS", "NEEDS", "NOTE"], rows)
