"""``orchestratia tasks reply ID MESSAGE``: a follow-up task that continues the task's
conversation (same agent, worktree and branch; the CLI resumes its own session)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from . import render
from .common import client, resolve_task_id
from .errors import CliError, guard


def message_text(message: str) -> str:
    """The message; ``-`` reads it from stdin. An empty one is refused here, before the hub."""
    text = sys.stdin.read() if message == "-" else message
    if not text.strip():
        raise CliError("the reply is empty: say what the agent should do next")
    return text


@guard
def reply(
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id (or a unique prefix) to reply to")],
    message: Annotated[str, typer.Argument(metavar="MESSAGE", help="What the agent should do next (- for stdin)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the new task as JSON (has `id`, `parent_id`, `status`)")] = False,
) -> None:
    """Reply to a finished task: a new task on the same agent, in the same worktree and branch,
    continuing the CLI's conversation (Claude Code --resume, Codex exec resume)."""
    text = message_text(message)
    with client() as hub:
        task: dict[str, Any] = hub.reply_task(resolve_task_id(hub, task_id), text)
    if as_json:
        render.print_json(task)
        return
    where = f" on {task.get('agent')}" if task.get("agent") else ""
    render.console().print(render.text("Reply ") + render.text(task.get("id"), "bold")
                           + render.text(f" {task.get('status')}{where} (continues {task.get('parent_id')})."))
    if task.get("queue_reason"):
        render.warn(f"Not started yet: {task['queue_reason']}")
    render.info(f"Follow it with: orchestratia tasks watch {task.get('id')}")
