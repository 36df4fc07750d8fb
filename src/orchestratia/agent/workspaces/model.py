"""The typed shapes of the workspace engine.

``WorkspaceSpec`` is what the daemon asks for, ``Prepared`` what it got (persist it with the
task: ``finish``/``push``/``discard`` take it back), ``ChangeSummary`` is the JSON the hub shows
as a task's ``workspace`` and ``WorkspaceResult`` adds the files and the unified diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

WorkspaceKind = Literal["worktree", "in_place"]
#: above this the diff is not sent, only the stat and a note (a diff is read into memory)
DEFAULT_DIFF_CAP = 5 * 1024 * 1024


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorkspaceSpec(_Model):
    """Where and how a task runs.

    ``kind``: ``worktree`` (own branch and directory; the default) or ``in_place`` (the repo's
    own checkout, today's behaviour: then one task at a time there). ``repo``: the configured
    repo directory. ``branch``: the repo's configured branch (the default base). ``base_ref``:
    ``--base REF``. ``continue_branch``: ``--branch NAME`` (an existing branch, local or on
    ``remote``). ``root``: where worktrees go (default: under the agent's state dir)."""

    kind: WorkspaceKind = "worktree"
    repo: Path
    root: Path
    branch: str | None = None
    base_ref: str | None = None
    continue_branch: str | None = None
    remote: str = "origin"


class Prepared(_Model):
    """A task's workspace: run the agent in ``path``.

    ``branch`` is the task's branch (for ``in_place`` the checkout's current branch, None when
    detached or not a git repo); ``base_commit`` the commit the task started from (None when not
    a git repo); ``repo`` the repository's own checkout; ``note`` a sentence for the user when
    the engine chose something other than asked (not a git repo, no commits yet, ...)."""

    kind: WorkspaceKind
    path: Path
    repo: Path
    branch: str | None = None
    base_ref: str | None = None
    base_commit: str | None = None
    task_id: str
    note: str = ""

    @property
    def is_git(self) -> bool:
        return self.base_commit is not None


class FileChange(_Model):
    """One changed file. ``insertions``/``deletions`` are None for a binary file; ``old_path``
    is set for a rename or copy."""

    path: str
    old_path: str | None = None
    insertions: int | None = None
    deletions: int | None = None
    binary: bool = False


class ChangeSummary(_Model):
    """A task's ``workspace`` as ``tasks show --json`` shows it."""

    kind: WorkspaceKind
    branch: str | None = None
    base_ref: str | None = None
    base_commit: str | None = None
    head_commit: str | None = None
    files_changed: int = 0
    insertions: int = 0
    deletions: int = 0
    #: True when ``finish`` committed what the agent left uncommitted
    committed: bool = False
    note: str = ""


class WorkspaceResult(_Model):
    """``finish``'s answer: the summary, each file, and the unified diff ``base...head``
    (empty with ``diff_truncated`` set when it was larger than the cap)."""

    summary: ChangeSummary
    files: list[FileChange] = Field(default_factory=list)
    diff: str = ""
    diff_truncated: bool = False


class DiskUsage(_Model):
    """Bytes on disk under the worktree root, in total and per task directory."""

    total_bytes: int = 0
    by_task: dict[str, int] = Field(default_factory=dict)
