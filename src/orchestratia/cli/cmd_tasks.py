"""``orchestratia tasks``: create, list, show, output, watch, diff, cancel."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from . import render
from .common import client, resolve_task_id, short_id
from orchestratia.protocol.policy import POLICY_VALUES, policy_choices

from . import cmd_task_workspace
from .errors import CliError, guard
from .render.stream import for_task
from .task_retries import cost_pairs, print_attempts, retry_options
from .watch import WATCH_EXIT_ERROR, watch_task

app = typer.Typer(help="Tasks: create, list, show, output, watch, diff, push, discard, cancel.", no_args_is_help=True)
cmd_task_workspace.register(app)  # push, discard


def read_spec(spec: str | None, spec_file: Path | None) -> str:
    if (spec is None) == (spec_file is None):
        raise CliError("give the task's prompt with exactly one of --spec TEXT or --spec-file FILE (- for stdin)")
    if spec is not None:
        text = spec
    elif str(spec_file) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(spec_file).read_text(encoding="utf-8")  # type: ignore[arg-type]
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read --spec-file {spec_file}: {exc}") from exc
    if not text.strip():
        raise CliError("the task's spec is empty: say what the agent should do")
    return text


def timeout_value(minutes: float | None) -> int | float | None:
    if minutes is None:
        return None
    if minutes <= 0:
        raise CliError("--timeout must be a positive number of minutes")
    return int(minutes) if float(minutes).is_integer() else minutes


@app.command("create")
@guard
def create(
    title: Annotated[str, typer.Option("--title", "-t", help="A short title")],
    spec: Annotated[Optional[str], typer.Option("--spec", "-s", help="The prompt (what the agent should do)")] = None,
    spec_file: Annotated[Optional[Path], typer.Option("--spec-file", "-f", help="Read the prompt from a file (- for stdin)")] = None,
    repo: Annotated[Optional[str], typer.Option("--repo", "-r", help="Repo name (from the agent's config) to run in")] = None,
    agent: Annotated[Optional[str], typer.Option("--agent", "-a", help="Agent name or id; default: any online agent with the repo")] = None,
    runner: Annotated[Optional[str], typer.Option("--runner", help="claude, shell, ...; default: the agent's default runner")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Minutes before the task is stopped and ends timed_out")] = None,
    approval_policy: Annotated[Optional[str], typer.Option("--approval-policy", help=f"{policy_choices()}: which tool calls a human approves (claude); default: the agent's")] = None,
    workspace: Annotated[Optional[str], typer.Option("--workspace", help="worktree (its own branch and worktree) or in-place (the repo's checkout); default: the repo's config")] = None,
    base: Annotated[Optional[str], typer.Option("--base", help="Branch from this commit, branch or tag (default: the repo's configured branch)")] = None,
    branch: Annotated[Optional[str], typer.Option("--branch", help="Continue this existing branch (local, or fetched from origin)")] = None,
    label: Annotated[Optional[list[str]], typer.Option("--label", "-l", help="Only an agent with this label (repeat: all of them), e.g. gpu, runner:codex, os:linux")] = None,
    priority: Annotated[str, typer.Option("--priority", help="high, normal or low: the queue takes high first, then the oldest")] = "normal",
    group: Annotated[Optional[str], typer.Option("--group", help="Concurrency group (orchestratia groups set NAME --max N)")] = None,
    retry: Annotated[Optional[int], typer.Option("--retry", help="Rerun it up to N times when a run fails for a cause in --retry-on (with a growing wait)")] = None,
    retry_on: Annotated[Optional[str], typer.Option("--retry-on", help="Causes that rerun it, comma-separated (default runner_failed,timed_out)")] = None,
    max_cost: Annotated[Optional[float], typer.Option("--max-cost", help="Stop a run past this cost in USD (ends failed, cause budget)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (has `id`, `status`)")] = False,
    after: Annotated[Optional[list[str]], typer.Option("--after", help="Start only after this task completed (id or unique prefix; repeatable). If it fails or is cancelled, this task is cancelled too")] = None,
) -> None:
    """Create a task; it runs as soon as a matching agent has room (and every --after task completed)."""
    body: dict[str, Any] = {"title": title, "spec": read_spec(spec, spec_file)}
    if repo:
        body["target_repo"] = repo
    if agent:
        body["agent"] = agent
    if runner:
        body["runner"] = runner
    if timeout is not None:
        body["timeout_minutes"] = timeout_value(timeout)
    if approval_policy is not None:
        if approval_policy not in POLICY_VALUES:
            raise CliError(f"--approval-policy must be {policy_choices()}, not {approval_policy!r}")
        body["approval_policy"] = approval_policy
    body.update(workspace_options(workspace, base, branch))
    body.update(scheduling_options(label, priority, group))
    body.update(retry_options(retry, retry_on, max_cost))
    with client() as hub:
        if after:
            body["after"] = [resolve_task_id(hub, value) for value in after]
        task = hub.create_task(body)
    if task.get("warning"):  # accepted, but nothing registered can run it: say so now, not never
        render.warn(str(task["warning"]))
    if as_json:
        render.print_json(task)
        return
    where = f" on {task.get('agent')}" if task.get("agent") else ""
    render.console().print(render.text("Task ") + render.text(task.get("id"), "bold") + render.text(f" {task.get('status')}{where}."))
    render.info(f"Follow it with: orchestratia tasks watch {task.get('id')}")


def scheduling_options(labels: list[str] | None, priority: str, group: str | None) -> dict[str, Any]:
    if priority not in ("high", "normal", "low"):
        raise CliError(f"--priority must be high, normal or low, not {priority!r}")
    body: dict[str, Any] = {"labels": labels} if labels else {}
    if priority != "normal":
        body["priority"] = priority
    if group is not None:
        body["group"] = group
    return body


def workspace_options(workspace: str | None, base: str | None, branch: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if workspace is not None:
        kind = {"worktree": "worktree", "in-place": "in_place", "in_place": "in_place"}.get(workspace)
        if kind is None:
            raise CliError(f"--workspace must be worktree or in-place, not {workspace!r}")
        body["workspace"] = kind
    if base is not None and branch is not None:
        raise CliError("give --base (a new branch from that commit) or --branch (continue an existing branch), not both")
    if body.get("workspace") == "in_place" and (base or branch):
        raise CliError("--base and --branch need a worktree: drop --workspace in-place")
    if base is not None:
        body["base_ref"] = base
    if branch is not None:
        body["branch"] = branch
    return body


@app.command("list")
@guard
def list_(
    status: Annotated[Optional[str], typer.Option("--status", help="queued, assigned, running, completed, failed, cancelled, timed_out, lost, parked (comma-separate several)")] = None,
    agent: Annotated[Optional[str], typer.Option("--agent", "-a", help="Only this agent's tasks")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List tasks, newest first."""
    with client() as hub:
        tasks = hub.list_tasks(status=status, agent=agent, limit=limit)
    if as_json:
        render.print_json(tasks)
        return
    render.table(
        ["ID", "TITLE", "STATUS", "AGENT", "REPO", "RUNNER", "CREATED (UTC)"],
        (
            [short_id(t.get("id")), render.one_line(t.get("title"), 40), _status_cell(t), t.get("agent") or "-",
             t.get("target_repo") or "-", t.get("runner") or "-", render.short_time(t.get("created_at"))]
            for t in tasks
        ),
    )


def _status_cell(task: dict[str, Any]) -> Any:
    text = render.status_text(task.get("status"))
    if task.get("waiting_for_human"):
        text.append(" (waiting for human)", style="yellow")
    return text


def _result_pairs(result: Any) -> list[tuple[str, Any]]:
    if not isinstance(result, dict):
        return [("result", result)] if result else []
    pairs: list[tuple[str, Any]] = []
    for key in ("exit_code", "duration_s", "cost_usd", "num_turns", "session_id", "summary"):
        if result.get(key) is not None:
            pairs.append((key.replace("_", " "), result[key]))
    return pairs


@app.command("show")
@guard
def show(
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id (or a unique prefix)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Show one task: status, times, result or error."""
    with client() as hub:
        task = hub.get_task(resolve_task_id(hub, task_id))
    if as_json:
        render.print_json(task)
        return
    pairs: list[tuple[str, Any]] = [
        ("id", task.get("id")),
        ("title", task.get("title")),
        ("status", _status_cell(task)),
        ("waiting", render.text(task["queue_reason"], "yellow") if task.get("queue_reason") else None),
        ("agent", task.get("agent")),
        ("repo", task.get("target_repo")),
        ("runner", task.get("runner")),
        ("labels", ", ".join(task.get("labels") or []) or None),
        ("priority", task.get("priority") if task.get("priority") not in (None, "normal") else None),
        ("group", task.get("group")),
        ("timeout", f"{task['timeout_minutes']} min" if task.get("timeout_minutes") else None),
        ("created", render.short_time(task.get("created_at"))),
        ("started", render.short_time(task.get("started_at"))),
        ("finished", render.short_time(task.get("finished_at"))),
        ("output", f"{task.get('output_size', 0)} bytes (orchestratia tasks output {short_id(task.get('id'))})"),
        ("reply to", task.get("parent_id")),
        ("conversation", task.get("session_id")),
        ("parked until", render.short_time(task.get("parked_until")) if task.get("parked_until") else None),
    ]
    pairs += _result_pairs(task.get("result"))
    pairs += _workspace_pairs(task)
    pairs += _dependency_pairs(task)
    pairs += cost_pairs(task)
    if task.get("error"):
        pairs.append(("error", render.text(task["error"], "red", multiline=True)))
    render.details(pairs)
    print_attempts(task)
    render.console().print("\n[bold]spec[/bold]")
    render.block(task.get("spec") or "")


def _dependency_pairs(task: dict[str, Any]) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    if task.get("depends_on"):
        pairs.append(("after", ", ".join(short_id(i) for i in task["depends_on"])))
    if task.get("pipeline_id"):
        pairs.append(("pipeline", f"{task.get('pipeline_node')} in {short_id(task['pipeline_id'])} "
                                  f"(orchestratia pipelines show {short_id(task['pipeline_id'])})"))
    if task.get("failure_cause"):
        pairs.append(("cause", task["failure_cause"]))
    if task.get("cancel_reason") and task.get("status") == "cancelled":
        pairs.append(("cancelled", task["cancel_reason"]))
    return pairs


def _workspace_pairs(task: dict[str, Any]) -> list[tuple[str, Any]]:
    ws = task.get("workspace")
    if not isinstance(ws, dict):
        return []
    where = f"{ws.get('kind')}" + (f" on {ws['branch']}" if ws.get("branch") else "")
    change = (f"{ws.get('files_changed', 0)} files, +{ws.get('insertions', 0)} -{ws.get('deletions', 0)} "
              f"(orchestratia tasks diff {short_id(task.get('id'))})")
    pairs: list[tuple[str, Any]] = [("workspace", where), ("change", change)]
    if ws.get("note"):
        pairs.append(("note", ws["note"]))
    if task.get("pr_url"):
        pairs.append(("pull request", task["pr_url"]))
    action = task.get("workspace_action")
    if isinstance(action, dict):
        style = {"done": "green", "failed": "red"}.get(str(action.get("status")), "yellow")
        pairs.append((f"last {action.get('kind')}", render.text(f"{action.get('status')}: {action.get('message') or ''}",
                                                                 style, multiline=True)))
    return pairs


@app.command("output")
@guard
def output_(
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id (or a unique prefix)")],
    offset: Annotated[int, typer.Option("--offset", help="Start at this byte")] = 0,
) -> None:
    """Print the task's stored output, raw bytes, to stdout."""
    sys.stdout.flush()
    with client(timeout=120.0) as hub:
        full_id = resolve_task_id(hub, task_id)
        while True:  # this hub sends all of it at once; older hubs at most 16 MiB: ask again from X-Next-Offset
            written, next_offset = hub.task_output(full_id, sys.stdout.buffer, offset=offset)
            if not written or next_offset is None or next_offset <= offset:
                return
            offset = next_offset


@app.command("watch")
@guard
def watch(
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id (or a unique prefix)")],
    offset: Annotated[int, typer.Option("--offset", help="Replay output from this byte (default: all of it)")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not print the final status line on stderr")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="Print the output exactly as stored (a Claude task's stream-json, control characters and all)")] = False,
) -> None:
    """Stream the task's output live; exit when it ends, with its status as the exit code:
    0 completed, 1 failed, 2 cancelled, 3 timed_out, 4 lost (5: could not watch).
    A Claude Code task shows as a transcript (text, tool calls and results, cost and turns)."""
    with client() as hub:
        try:
            task = hub.get_task(resolve_task_id(hub, task_id))
        except CliError as exc:
            raise CliError(exc.message, WATCH_EXIT_ERROR, exc.status) from exc
        code = watch_task(hub, str(task["id"]), offset=offset, quiet=quiet, renderer=for_task(task, raw=raw))
    raise typer.Exit(code)


@app.command("diff")
@guard
def diff(
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id (or a unique prefix)")],
    stat: Annotated[bool, typer.Option("--stat", help="The changed files with their +/- counts instead")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="The diff's bytes exactly as stored (for git apply, files, pipes)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --stat: print JSON")] = False,
) -> None:
    """Print the change the task made (its branch against the commit it started from), as its
    agent reported it when the run ended; empty when nothing changed. Control characters are
    made visible unless --raw."""
    with client(timeout=120.0) as hub:
        full_id = resolve_task_id(hub, task_id)
        if stat or as_json:
            _print_stat(hub.task_diff_stat(full_id), as_json)
            return
        data = hub.task_diff(full_id)
    if raw:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    sys.stdout.write(render.visible(data.decode("utf-8", "replace"), multiline=True))
    sys.stdout.flush()


def _print_stat(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        render.print_json(info)
        return
    for f in info.get("files") or []:
        counts = "binary" if f.get("binary") else f"+{f.get('insertions', 0)} -{f.get('deletions', 0)}"
        name = f"{f['old_path']} => {f['path']}" if f.get("old_path") else f.get("path")
        sys.stdout.write(f"{f.get('status', 'modified'):<9} {counts:<14} {render.visible(name)}\n")
    ws = info.get("workspace") or {}
    sys.stdout.write(f"{ws.get('files_changed', 0)} files changed, {ws.get('insertions', 0)} insertions(+), "
                     f"{ws.get('deletions', 0)} deletions(-)\n" if ws.get("files_changed") else "")
    if info.get("diff_truncated"):
        sys.stdout.write("(the diff was larger than the size cap: only the stat was kept)\n")


@app.command("cancel")
@guard
def cancel(
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id (or a unique prefix)")],
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why (stored with the task)")] = None,
) -> None:
    """Cancel a task: a running one is stopped (SIGINT, then SIGTERM, then SIGKILL)."""
    with client() as hub:
        task = hub.cancel_task(resolve_task_id(hub, task_id), reason)
    render.success(f"Task {task.get('id')} is {task.get('status')}.")
