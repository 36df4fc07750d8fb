"""``orchestratia agents``: the registered agent daemons."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from . import render
from .common import client, find_agent, resolve_agent_id, short_id
from .errors import guard

app = typer.Typer(help="Registered agents: list, show, revoke, delete.", no_args_is_help=True)


def disk_text(agent: dict[str, Any]) -> str:
    """Disk used by the agent's task worktrees, as its daemon last measured it."""
    disk = agent.get("workspace_disk")
    if not isinstance(disk, dict):
        return "-"
    size = float(disk.get("total_bytes") or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            break
        size /= 1024
    return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"


def _repos(agent: dict[str, Any]) -> str:
    repos = agent.get("repos") or {}
    return ", ".join(sorted(repos)) if isinstance(repos, dict) else str(repos)


@app.command("list")
@guard
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List agents with their status and last contact."""
    with client() as hub:
        agents = hub.list_agents()
    if as_json:
        render.print_json(agents)
        return
    render.table(
        ["NAME", "ID", "STATUS", "LAST SEEN", "HOST", "REPOS", "RUNNERS", "LABELS", "RUNNING", "WORKTREES"],
        (
            [a.get("name"), short_id(a.get("id")), render.status_text(a.get("status")), render.ago(a.get("last_seen_at")),
             a.get("hostname") or "-", _repos(a) or "-", ", ".join(a.get("runners") or []) or "-",
             ", ".join(a.get("labels") or []) or "-",
             f"{len(a.get('running_tasks') or [])}/{a.get('max_concurrent_tasks') or '-'}", disk_text(a)]
            for a in agents
        ),
    )


@app.command("show")
@guard
def show(
    agent: Annotated[str, typer.Argument(metavar="NAME_OR_ID", help="Agent name, id or a unique id prefix")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Show one agent: status, system info, repos, running tasks."""
    with client() as hub:
        data = find_agent(hub, agent)
    if as_json:
        render.print_json(data)
        return
    info = data.get("system_info") or {}
    repos = data.get("repos") or {}
    pairs: list[tuple[str, Any]] = [
        ("name", data.get("name")),
        ("id", data.get("id")),
        ("status", render.status_text(data.get("status"))),
        ("last seen", f"{render.short_time(data.get('last_seen_at'))} UTC ({render.ago(data.get('last_seen_at'))})"),
        ("registered", f"{render.short_time(data.get('created_at'))} UTC"),
        ("host", f"{data.get('hostname') or '-'} ({data.get('ip') or '-'}), {data.get('os') or '-'}"),
        ("version", data.get("agent_version")),
        ("runners", ", ".join(data.get("runners") or [])),
        ("labels", ", ".join(data.get("labels") or [])),
        ("auto labels", ", ".join(data.get("auto_labels") or [])),
        ("capacity", f"{len(data.get('running_tasks') or [])} running of {data.get('max_concurrent_tasks') or '-'}"),
        ("running tasks", ", ".join(data.get("running_tasks") or [])),
        ("worktrees", f"{disk_text(data)} in {(data.get('workspace_disk') or {}).get('worktrees', 0)} task worktree(s)"
         if data.get("workspace_disk") else "- (not reported: an older daemon, or none measured yet)"),
    ]
    for name, path in sorted(repos.items()) if isinstance(repos, dict) else []:
        pairs.append((f"repo {name}", path.get("path") if isinstance(path, dict) else path))
    for key in ("cpu_count", "cpu_percent", "memory_percent", "disk_percent", "platform", "python_version"):
        if key in info:
            pairs.append((key, info[key]))
    render.details(pairs)


@app.command("revoke")
@guard
def revoke(agent: Annotated[str, typer.Argument(metavar="ID", help="Agent id, a unique id prefix, or name")]) -> None:
    """Revoke an agent: its API key stops working at once."""
    with client() as hub:
        data = hub.revoke_agent(resolve_agent_id(hub, agent))
    render.success(f"Agent {data.get('name')} ({data.get('id')}) is {data.get('status', 'REVOKED')}.")


@app.command("delete")
@guard
def delete(agent: Annotated[str, typer.Argument(metavar="NAME_OR_ID", help="Agent name, id or a unique id prefix")]) -> None:
    """Remove an agent from the hub: a revoked one, or one that is offline with no running task
    (its API key stops working; its past tasks are kept)."""
    with client() as hub:
        data = find_agent(hub, agent)
        hub.delete_agent(str(data["id"]))
    render.success(f"Agent {data.get('name')} ({data.get('id')}) is deleted.")
