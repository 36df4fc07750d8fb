"""Continuing a task's worktree: a reply (or a parked task resuming) runs where the earlier run
of its thread ran, on the same branch, so its change lands on top of that run's commit.

The worktree is ``<root>/<worktree_of>`` (named after the thread's first task). When it is
gone (pruned, discarded, removed by hand) it is made again from the branch; the branch itself
must still exist (locally, or on the remote).
"""

from __future__ import annotations

from pathlib import Path

from . import _git
from ._lock import ensure_private_dir
from .errors import WorkspaceError
from .model import Prepared, WorkspaceSpec
from .naming import canonical_task_id, check_branch_name
from .repo import probe, repo_dir
from .worktree import _continue_branch


def continue_worktree(spec: WorkspaceSpec, worktree_of: str, branch: str, task_id: str) -> Prepared:
    """The workspace of ``task_id`` in the worktree of task ``worktree_of`` on ``branch``.
    ``base_commit`` is the branch's tip now, so the task's diff is its own change only."""
    task_id = canonical_task_id(task_id)
    dest_name = canonical_task_id(worktree_of)  # a UUID: never a path of its own
    name = check_branch_name(branch)
    repo = repo_dir(spec)
    found = probe(repo)
    if isinstance(found, str):
        raise WorkspaceError(f"cannot continue branch {name}: {found}")
    top, prefix, _ = found
    root = ensure_private_dir(Path(spec.root).expanduser())
    dest = root / dest_name
    if dest.exists():
        current = _git.current_branch(dest) if (dest / ".git").exists() else None
        if current != name:
            raise WorkspaceError(f"the worktree {dest} is on {current or 'no branch'}, not on {name}: check out "
                                 f"{name} there again (git -C {dest} switch {name}), or discard the worktree so "
                                 "it is made again from the branch")
    else:
        # the directory is gone: forget git's record of it, else the branch counts as checked out there
        _git.run(["worktree", "prune"], top, check=False)
        _continue_branch(spec.model_copy(update={"continue_branch": name}), top, dest)
    head = _git.rev(dest, "HEAD")
    return Prepared(kind="worktree", path=dest / prefix if prefix else dest, repo=repo, task_id=task_id,
                    branch=name, base_ref=name, base_commit=head)
