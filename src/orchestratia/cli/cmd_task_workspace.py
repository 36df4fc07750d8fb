"""``orchestratia tasks push`` and ``tasks discard``: a finished task's branch, pushed (and a
pull request opened) or removed by its agent with the server's own git credentials. The hub
queues the request for the agent; these commands wait for the outcome and print it (exit 1
with the agent's message when it failed). Registered on the ``tasks`` app by cmd_tasks."""

from __future__ import annotations

import time
from typing import Annotated, Any, Optional

import typer

from . import render
from .client import ADMIN, HubClient
from .common import client, resolve_task_id, short_id
from .errors import CliError, guard

#: how often the outcome is asked for while waiting
POLL_S = 0.5


def register(app: typer.Typer) -> None:
    app.command("push")(guard(push))
    app.command("discard")(guard(discard))


def push(
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id (or a unique prefix)")],
    remote: Annotated[Optional[str], typer.Option("--remote", help="The git remote on the agent's server (default: origin)")] = None,
    pr: Annotated[bool, typer.Option("--pr", help="Also open a pull request (gh) or merge request (glab) on the server")] = False,
    title: Annotated[Optional[str], typer.Option("--title", help="The pull request's title (default: the task's title)")] = None,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the agent's answer")] = 120.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the task as JSON once the outcome is in")] = False,
) -> None:
    """Push a finished task's branch from its agent (the server's own git credentials); with
    --pr also open a pull / merge request and record its URL on the task. A failure (no such
    remote, credentials refused, non-fast-forward, no gh/glab) exits 1 with the agent's
    message; the branch always stays."""
    body: dict[str, Any] = {"remote": remote, "pr": pr, "title": title}
    _act(task_id, "push", body, wait, as_json)


def discard(
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id (or a unique prefix)")],
    force: Annotated[bool, typer.Option("--force", help="Also when the branch has commits on no remote (they are lost)")] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the agent's answer")] = 120.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the task as JSON once the outcome is in")] = False,
) -> None:
    """Remove a finished task's worktree and branch on its agent. Refused when the branch has
    commits that are on no remote (push it first), unless --force."""
    _act(task_id, "discard", {"force": force}, wait, as_json)


def _act(task_id: str, kind: str, body: dict[str, Any], wait: float, as_json: bool) -> None:
    with client() as hub:
        full_id = resolve_task_id(hub, task_id)
        task = hub.json("POST", f"{ADMIN}/tasks/{full_id}/{kind}", json=body)
        action_id = (task.get("workspace_action") or {}).get("id")
        if not as_json:
            render.info(f"asked agent {task.get('agent') or '?'} to {kind} "
                        f"{(task.get('workspace') or {}).get('branch') or 'the branch'}; waiting for its answer")
        task = wait_for_outcome(hub, full_id, action_id, wait)
    action = task.get("workspace_action") or {}
    if as_json:
        render.print_json(task)
    if action.get("status") == "pending":
        raise CliError(f"agent {task.get('agent') or '?'} has not answered within {wait:g} s (offline?); the {kind} "
                       f"stays queued and runs when it is back: see orchestratia tasks show {short_id(full_id)}")
    if action.get("status") != "done":
        raise CliError(f"{kind} failed: {action.get('message') or 'the agent gave no reason'}")
    if not as_json:
        render.success(action.get("message") or f"{kind} done")
        if action.get("pr_url"):
            render.console().print(render.text(f"pull request: {action['pr_url']}"))


def wait_for_outcome(hub: HubClient, task_id: str, action_id: str | None, wait: float) -> dict[str, Any]:
    """The task once its action ``action_id`` is no longer pending, or at the deadline."""
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        task = hub.get_task(task_id)
        action = task.get("workspace_action") or {}
        if action.get("id") != action_id or action.get("status") != "pending" or time.monotonic() >= deadline:
            return task
        time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
