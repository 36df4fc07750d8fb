"""Workspace actions on this agent: push a finished task's branch (and open a pull / merge
request), or discard its worktree and branch, as an admin asked through the hub
(protocol/workspace_actions.py). Actions arrive pushed on the WebSocket or fetched
(``GET /workspace-actions``, every poll); each outcome goes back to the hub with a message for
the admin. Git runs with the server's own credentials; the branch always stays on a failure.

The daemon trusts no name from the hub: a branch is pushed or deleted only when it is the one
checked out in the task's worktree, or has the task's own prefix ``orchestratia/<id8>``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from pathlib import Path
from typing import Any, Callable

from orchestratia.protocol.workspace_actions import WorkspaceAction, WorkspaceActionResult

from .client import AuthError, HubClient, NotFoundError
from .workspaces import (
    DiscardRefused, PullRequestError, PushError, WorkspaceError, discard, open_pr, push,
)
from .workspaces.naming import PREFIX, short_id

log = logging.getLogger("orchestratia.agent")
#: marker files of pushed tasks, under the worktree root: ``prune`` may remove their worktrees
PUSHED_DIR = ".pushed"
_SHA_LEN = (40, 64)


def pushed_marker(root: Path, task_id: str) -> Path:
    return root / PUSHED_DIR / task_id


def _fail(message: str) -> WorkspaceActionResult:
    return WorkspaceActionResult(ok=False, message=message)


def _git_out(argv: list[str], cwd: Path) -> str:
    proc = subprocess.run(["git", *argv], cwd=cwd, capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _own_branch(action: WorkspaceAction, worktree: Path) -> bool:
    """The branch is this task's: checked out in its worktree, or named by the task's id."""
    if not action.branch:
        return False
    if worktree.is_dir() and _git_out(["symbolic-ref", "--short", "-q", "HEAD"], worktree) == action.branch:
        return True
    return action.branch.startswith(f"{PREFIX}/{short_id(action.task_id)}")


def pr_base(action: WorkspaceAction, repo_branch: str | None, repo_path: Path) -> str | None:
    """The branch a pull request targets: the task's base when it names a branch, else the
    repo's configured branch, else the branch checked out in the repo."""
    base = (action.base or "").removeprefix(f"{action.remote}/")
    is_sha = len(base) in _SHA_LEN and all(c in "0123456789abcdef" for c in base.lower())
    if base and base != "HEAD" and not is_sha:
        return base
    return repo_branch or _git_out(["symbolic-ref", "--short", "-q", "HEAD"], repo_path) or None


def perform(cfg: Any, action: WorkspaceAction, running: bool) -> WorkspaceActionResult:
    """Do ``action`` (blocking: git, gh/glab; run it in a thread) and say how it went."""
    if running:
        return _fail("the task is still running on this agent: push or discard it once it has ended")
    repo = cfg.repos.get(action.target_repo)
    if repo is None:
        return _fail(f"repo {action.target_repo!r} is no longer in this agent's config.yaml: add it back "
                     "(and `orchestratia agent reload`) to reach the task's branch")
    root = Path(cfg.workspace.root)
    worktree = root / action.task_id
    where = worktree if worktree.is_dir() else Path(repo.path)
    try:
        if action.kind == "discard":
            return _discard(action, worktree, Path(repo.path), root)
        if not _own_branch(action, worktree):
            return _fail(f"branch {action.branch!r} is not this task's branch on the agent: nothing pushed")
        return _push(action, where, root, repo.branch, Path(repo.path))
    except WorkspaceError as err:  # PushError, GitError, ...: the engine's message says what to do
        return _fail(str(err))


def _push(action: WorkspaceAction, where: Path, root: Path, repo_branch: str | None,
          repo_path: Path) -> WorkspaceActionResult:
    branch = action.branch or ""
    try:
        url = push(where, branch, action.remote)
    except PushError as err:
        return _fail(str(err))
    marker = pushed_marker(root, action.task_id)
    marker.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    marker.touch(mode=0o600)
    done = f"pushed {branch} to {action.remote} ({url})"
    if not action.pr:
        return WorkspaceActionResult(ok=True, message=done, remote_url=url)
    base = pr_base(action, repo_branch, repo_path)
    if base is None:
        return _fail(f"{done}; no pull request: the task's base is not a branch and repo has no `branch:` in "
                     "config.yaml to target")
    body = f"Opened by Orchestratia for task {action.task_id}."
    try:
        pr_url = open_pr(where, branch, base, action.title or branch, body, remote=action.remote)
    except PullRequestError as err:
        return _fail(f"{done}; the pull request was not opened: {err}")
    return WorkspaceActionResult(ok=True, message=f"{done}; opened {pr_url}", pr_url=pr_url, remote_url=url)


def _discard(action: WorkspaceAction, worktree: Path, repo_path: Path, root: Path) -> WorkspaceActionResult:
    own = _own_branch(action, worktree)
    branch = action.branch if own else None  # a continued branch existed before the task: it stays
    if not worktree.is_dir() and branch is None:
        return _fail("the task's worktree is gone and its branch is not the task's own: nothing to discard")
    try:
        discard(worktree, branch, force=action.force, repo=repo_path)
    except DiscardRefused as err:
        return _fail(str(err))
    pushed_marker(root, action.task_id).unlink(missing_ok=True)
    kept = "" if own or not action.branch else f"; branch {action.branch} existed before the task and stays"
    what = f"removed the task's worktree and deleted branch {branch}" if branch else "removed the task's worktree"
    return WorkspaceActionResult(ok=True, message=what + kept)


class ActionRunner:
    """Takes actions (pushed or fetched), runs each once, reports its outcome; an outcome the
    hub did not get is reported again at the next fetch (the hub keeps the first)."""

    def __init__(self, cfg: Any, client: HubClient, is_running: Callable[[str], bool],
                 spawn: Callable[..., Any], changed: Callable[[], None]) -> None:
        self.cfg, self.client, self.is_running, self.spawn, self.changed = cfg, client, is_running, spawn, changed
        self._busy: set[str] = set()
        self._unsent: dict[str, WorkspaceActionResult] = {}
        self.hub_has_route = True

    def offer(self, action: WorkspaceAction) -> None:
        if action.id in self._busy:
            return
        self._busy.add(action.id)
        self.spawn(self._run(action), name=f"action-{action.id}")

    async def fetch(self) -> None:
        """Ask the hub for pending actions (an older hub answers 404 once: then never again)."""
        if not self.hub_has_route:
            return
        try:
            items = await self.client.workspace_actions()
        except NotFoundError:
            self.hub_has_route = False
            return
        for item in items:
            try:
                self.offer(WorkspaceAction.model_validate(item))
            except ValueError as err:
                log.warning("ignoring a workspace action the hub sent: %s", err)

    async def _run(self, action: WorkspaceAction) -> None:
        try:
            result = self._unsent.pop(action.id, None)
            if result is None:
                log.info("task %s: %s requested (%s)", action.task_id, action.kind, action.id)
                result = await asyncio.to_thread(perform, self.cfg, action, self.is_running(action.task_id))
                log.info("task %s: %s %s: %s", action.task_id, action.kind, "done" if result.ok else "failed",
                         result.message)
                self.changed()
            try:
                await self.client.workspace_action_result(action.id, result.model_dump(mode="json"))
            except (AuthError, NotFoundError) as err:
                log.warning("task %s: the hub did not take the %s outcome: %s", action.task_id, action.kind, err)
            except Exception as err:  # noqa: BLE001 - hub away: sent again at the next fetch
                log.warning("task %s: reporting the %s outcome failed (will retry): %s", action.task_id,
                            action.kind, err)
                self._unsent[action.id] = result
        finally:
            self._busy.discard(action.id)
