"""``orchestratia interventions``: questions running tasks asked a human."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from . import render
from .common import client, short_id
from .errors import guard

app = typer.Typer(help="Help requests from running tasks: list, answer.", no_args_is_help=True)


@app.command("list")
@guard
def list_(
    status: Annotated[Optional[str], typer.Option("--status", help="pending, answered, cancelled or withdrawn")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List interventions, pending first."""
    with client() as hub:
        items = hub.list_interventions(status)
    if as_json:
        render.print_json(items)
        return
    render.table(
        ["ID", "STATUS", "TASK", "AGENT", "QUESTION", "ASKED (UTC)", "RESPONSE"],
        (
            [i.get("id"), render.status_text(i.get("status")), f"{short_id(i.get('task_id'))} {render.one_line(i.get('task_title'), 30)}",
             i.get("agent") or "-", render.one_line(i.get("question"), 60), render.short_time(i.get("created_at")),
             render.one_line(i.get("response"), 40) or "-"]
            for i in items
        ),
    )


@app.command("answer")
@guard
def answer(
    intervention_id: Annotated[str, typer.Argument(metavar="ID", help="Intervention id")],
    text: Annotated[str, typer.Argument(metavar="TEXT", help="Your answer")],
) -> None:
    """Answer a pending intervention (the first answer wins)."""
    with client() as hub:
        item = hub.answer_intervention(intervention_id, text)
    render.success(f"Answered intervention {item.get('id')} (task {item.get('task_id')}).")
