"""A task's workspace result, as the daemon sends it (``POST /tasks/{id}/workspace``, an
extension of the v1 agent API) and the hub serves it (the task's ``workspace``, its diff).

The daemon sends it before its ``complete``/``fail``; a hub without the route answers 404 and
the daemon goes on. Everything in it is agent-controlled text: the hub stores it, never runs it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: the largest unified diff a daemon sends (the workspace engine's cap): above it the stat only
WORKSPACE_DIFF_MAX = 5 * 1024 * 1024
#: the most files a report lists (a generated tree can change more; the totals stay exact)
WORKSPACE_FILES_MAX = 20_000
#: the largest ``POST /tasks/{id}/workspace`` body the hub reads: the diff at its cap, escaped
#: as JSON (each control character is 6 bytes then; source code is mostly plain), plus the file
#: list. A daemon whose body would be larger drops the diff (``diff_truncated``) first.
WORKSPACE_BODY_MAX = 16 * 1024 * 1024
WORKSPACE_KINDS = ("worktree", "in_place")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WorkspaceSummary(_Model):
    """The task's ``workspace`` in the admin API and ``tasks show --json``."""

    kind: Literal["worktree", "in_place"]
    branch: str | None = Field(default=None, max_length=500)
    base_ref: str | None = Field(default=None, max_length=500)
    base_commit: str | None = Field(default=None, max_length=64)
    head_commit: str | None = Field(default=None, max_length=64)
    files_changed: int = Field(default=0, ge=0)
    insertions: int = Field(default=0, ge=0)
    deletions: int = Field(default=0, ge=0)
    committed: bool = False
    note: str = Field(default="", max_length=2000)


class WorkspaceFile(_Model):
    """One changed file. ``status``: ``added``, ``deleted``, ``modified`` or ``renamed``;
    ``insertions``/``deletions`` are None for a binary file."""

    path: str = Field(max_length=4096)
    old_path: str | None = Field(default=None, max_length=4096)
    insertions: int | None = Field(default=None, ge=0)
    deletions: int | None = Field(default=None, ge=0)
    binary: bool = False
    status: str = Field(default="modified", max_length=20)


class WorkspaceReport(WorkspaceSummary):
    """``POST /api/v1/agents/tasks/{id}/workspace``: the summary's fields, the files, the diff."""

    files: list[WorkspaceFile] = Field(default_factory=list, max_length=WORKSPACE_FILES_MAX)
    diff: str = Field(default="", max_length=WORKSPACE_DIFF_MAX)
    diff_truncated: bool = False

    def summary(self) -> WorkspaceSummary:
        return WorkspaceSummary.model_validate(self.model_dump(include=set(WorkspaceSummary.model_fields)))
