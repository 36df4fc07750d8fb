"""The agent's workspace engine: a git worktree and branch per task, its result as a commit and
a diff, push / pull request, and cleanup. Self-contained (stdlib + pydantic; git through
subprocess): the daemon calls it, it calls nothing of the daemon's. See docs/workspaces.md.

Import the functions from their modules (``workspaces.worktree.prepare``, ...); this package
re-exports them for convenience.
"""

from __future__ import annotations

from .cleanup import discard, disk_usage, prune
from .errors import DiscardRefused, GitError, PullRequestError, PushError, WorkspaceError
from .model import ChangeSummary, DiskUsage, FileChange, Prepared, WorkspaceResult, WorkspaceSpec
from .naming import branch_name, check_branch_name, slugify
from .push import detect_pr_tool, open_pr, push
from .result import commit_message, finish
from .reuse import continue_worktree
from .spare import warm_spare
from .worktree import prepare

__all__ = [
    "ChangeSummary", "DiscardRefused", "DiskUsage", "FileChange", "GitError", "Prepared", "PullRequestError",
    "PushError", "WorkspaceError", "WorkspaceResult", "WorkspaceSpec", "branch_name", "check_branch_name",
    "commit_message", "continue_worktree", "detect_pr_tool", "discard", "disk_usage", "finish", "open_pr", "prepare", "prune", "push",
    "slugify", "warm_spare",
]
