"""A task's workspace on this agent: prepared before its run (its own git worktree and branch,
or the repo's checkout), finished after it (the agent's work committed, the change measured)
and reported to the hub (``POST /tasks/{id}/workspace``) before the task's complete/fail.

The engine (:mod:`.workspaces`) blocks on git for up to seconds: every call here runs it in a
worker thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from orchestratia.protocol import TaskPayload
from orchestratia.protocol.workspace import WORKSPACE_BODY_MAX, WORKSPACE_FILES_MAX, WorkspaceReport

from .client import AuthError, HubClient, HubError, NotFoundError
from .workspaces import (
    Prepared, WorkspaceError, WorkspaceResult, WorkspaceSpec, commit_message, continue_worktree, discard, finish,
    prepare,
)
from .workspaces.naming import PREFIX, short_id

log = logging.getLogger("orchestratia.agent")
#: a task's ``workspace`` as the hub sends it -> the engine's kind
KINDS = {"worktree": "worktree", "in_place": "in_place", "in-place": "in_place"}
_GIT_HEADER = re.compile(r"^diff --git a/(.*) b/(.*)$")


def spec_for(task: TaskPayload, cfg: Any) -> WorkspaceSpec | str:
    """What to ask the engine for a task with a configured repo, or why the task cannot run."""
    repo = cfg.repos[task.target_repo]
    wanted = task.workspace or repo.workspace
    kind = KINDS.get(wanted)
    if kind is None:
        return f"unknown workspace {wanted!r}: use worktree or in-place"
    if kind == "in_place" and (task.base_ref or task.branch):
        return "--base and --branch need a worktree; this task runs in place"
    return WorkspaceSpec(kind=kind, repo=repo.path, root=cfg.workspace.root, branch=repo.branch,
                         base_ref=task.base_ref or None, continue_branch=task.branch or None)


def continues_worktree(task: TaskPayload) -> bool:
    """Whether the task continues an earlier run's worktree and branch (a reply, a parked task)."""
    r = task.resume
    return r is not None and r.kind == "worktree" and bool(r.worktree_of) and bool(r.branch)
def spec_for_repo(cfg: Any, name: str) -> WorkspaceSpec | None:
    """The spec of a task with no options in repo ``name`` (for its spare worktree), None when
    its tasks run in place."""
    repo = cfg.repos[name]
    if KINDS.get(repo.workspace) != "worktree":
        return None
    return WorkspaceSpec(kind="worktree", repo=repo.path, root=cfg.workspace.root, branch=repo.branch)


async def prepare_for(task: TaskPayload, cfg: Any) -> Prepared | str:
    """The task's workspace, or the error to fail the task with (what is wrong, what to do).
    A task that continues an earlier run gets that run's worktree (made again from its branch
    when it was removed)."""
    spec = spec_for(task, cfg)
    if isinstance(spec, str):
        return spec
    try:
        if continues_worktree(task) and task.resume is not None:
            spec = spec.model_copy(update={"kind": "worktree", "base_ref": None, "continue_branch": None})
            prepared = await asyncio.to_thread(continue_worktree, spec, task.resume.worktree_of or "",
                                               task.resume.branch or "", task.id)
        else:
            prepared = await asyncio.to_thread(prepare, spec, task.id, task.title)
    except WorkspaceError as err:
        return f"the agent could not prepare the task's workspace in repo {task.target_repo!r}: {err}"
    if prepared.note:
        log.info("task %s: %s", task.id, prepared.note)
    return prepared


def remove_unused(prepared: Prepared) -> None:
    """Remove the worktree (and the branch the task's start made) of a task whose session never
    started: nothing ran in it. A branch the task continued (``--branch``) stays. Blocking; a
    failure is logged with where the leftovers are."""
    if prepared.kind != "worktree":
        return
    own = bool(prepared.branch) and prepared.branch.startswith(f"{PREFIX}/{short_id(prepared.task_id)}")
    try:
        discard(prepared.path, prepared.branch if own else None, force=True, repo=prepared.repo)
        log.info("task %s: its session did not start: removed its worktree%s", prepared.task_id,
                 f" and branch {prepared.branch}" if own else "")
    except (WorkspaceError, OSError) as err:
        log.warning("task %s: its session did not start and its worktree %s (branch %s) could not be removed: %s",
                    prepared.task_id, prepared.path, prepared.branch, err)


def file_statuses(diff: str) -> dict[str, str]:
    """``added`` / ``deleted`` per path, read from the diff's extended headers (renames come
    from the numstat; the rest is ``modified``)."""
    found: dict[str, str] = {}
    path = None
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            m = _GIT_HEADER.match(line)
            path = m.group(2) if m else None
        elif path and line.startswith("new file mode"):
            found[path] = "added"
        elif path and line.startswith("deleted file mode"):
            found[path] = "deleted"
    return found


def to_report(result: WorkspaceResult) -> WorkspaceReport:
    """The wire form; the diff is dropped (``diff_truncated``) when the body would pass the
    hub's limit, and the file list is cut at the protocol's maximum (the totals stay exact)."""
    statuses = file_statuses(result.diff)
    files = [{**f.model_dump(mode="json"),
              "status": "renamed" if f.old_path else statuses.get(f.path, "modified")}
             for f in result.files[:WORKSPACE_FILES_MAX]]
    body = {**result.summary.model_dump(mode="json"), "files": files, "diff": result.diff,
            "diff_truncated": result.diff_truncated}
    if len(json.dumps(body)) > WORKSPACE_BODY_MAX - 4096:
        body.update(diff="", diff_truncated=True)
        body["note"] = " ".join(filter(None, [body["note"], "the diff was too large to send: only the stat is kept"]))
    return WorkspaceReport.model_validate(body)


async def finish_and_send(client: HubClient, prepared: Prepared, title: str, author: str) -> None:
    """Commit and measure the task's change, then send it. A hub without the route (404), or
    one that refuses the report (4xx), is let be; outages and 401 raise (the caller retries
    the whole report). A workspace the
    engine cannot finish (removed meanwhile) is logged: the task's own report still goes."""
    try:
        result = await asyncio.to_thread(finish, prepared, commit_message(title, prepared.task_id), author)
        report = await asyncio.to_thread(to_report, result)
    except WorkspaceError as err:
        log.warning("task %s: could not finish its workspace: %s", prepared.task_id, err)
        return
    try:
        await client.workspace(prepared.task_id, report.model_dump(mode="json"))
    except NotFoundError as err:
        log.info("task %s: the hub took no workspace report (%s); an older hub?", prepared.task_id, err)
        return
    except HubError as err:
        # a refusal (413, 422, ...) would refuse every retry too: the task's own report must
        # still go, so the change is given up (it stays on the branch); 401 and outages raise
        if isinstance(err, AuthError) or err.status is None or err.status >= 500:
            raise
        log.warning("task %s: the hub refused the workspace report: %s", prepared.task_id, err)
        return
    s = report
    log.info("task %s: workspace %s%s: %d files, +%d -%d", prepared.task_id, s.kind,
             f" on {s.branch}" if s.branch else "", s.files_changed, s.insertions, s.deletions)
