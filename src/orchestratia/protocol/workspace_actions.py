"""Workspace actions: what an admin asks an agent to do with a finished task's branch (push it,
open a pull request, discard it), how the hub hands the request to the daemon, and how the
daemon reports the outcome. An extension of the agent API (docs/protocol.md, "Workspace
actions"); v1 daemons never see any of it.

Flow: ``POST /api/admin/tasks/{id}/push|discard`` stores a pending :class:`WorkspaceAction`;
the hub pushes :class:`WsWorkspaceAction` to a daemon whose ``hello`` listed
:data:`FEATURE_WORKSPACE_ACTIONS`, and every daemon that reported the feature in its
capabilities also fetches pending ones (``GET /api/v1/agents/workspace-actions``, for
poll-only daemons and pushes lost in a reconnect). The daemon performs it and sends
:class:`WorkspaceActionResult` to ``POST /api/v1/agents/workspace-actions/{id}``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: listed in ``hello`` features and the capabilities report's ``features``
FEATURE_WORKSPACE_ACTIONS = "workspace_actions"
#: the longest message an outcome may carry (a git error is a line or two)
ACTION_MESSAGE_MAX = 4000
ActionKind = Literal["push", "discard"]
ActionStatus = Literal["pending", "done", "failed"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WorkspaceAction(_Model):
    """One request for the daemon. ``branch`` and ``base`` come from the task's reported
    workspace (the daemon checks them again: it never trusts a name it did not make)."""

    id: str
    task_id: str
    kind: ActionKind
    target_repo: str = ""
    branch: str | None = None
    #: the branch a pull request targets (the task's base), None: the repo's configured branch
    base: str | None = None
    remote: str = "origin"
    pr: bool = False
    title: str | None = None
    force: bool = False


class WsWorkspaceAction(_Model):
    """Hub → agent push (bus channel ``agent:{id}``), forwarded only to a connection whose
    ``hello`` listed :data:`FEATURE_WORKSPACE_ACTIONS`."""

    type: Literal["workspace_action"] = "workspace_action"
    action: WorkspaceAction


class WorkspaceActionResult(_Model):
    """``POST /api/v1/agents/workspace-actions/{id}``: the outcome. ``message`` says what
    happened or what went wrong and what to do (shown to the admin as it is)."""

    ok: bool
    message: str = Field(default="", max_length=ACTION_MESSAGE_MAX)
    pr_url: str | None = Field(default=None, max_length=2000)
    remote_url: str | None = Field(default=None, max_length=2000)


class WorkspaceDisk(_Model):
    """Heartbeat extension ``workspace_disk``: bytes on disk under the agent's worktree root
    and how many task worktrees are there (measured every few minutes, not per heartbeat)."""

    total_bytes: int = Field(default=0, ge=0)
    worktrees: int = Field(default=0, ge=0)
    measured_at: str | None = Field(default=None, max_length=64)


class PushRequest(_Model):
    """``POST /api/admin/tasks/{id}/push``."""

    remote: str | None = Field(default=None, max_length=200)
    pr: bool = False
    title: str | None = Field(default=None, max_length=500)


class DiscardRequest(_Model):
    """``POST /api/admin/tasks/{id}/discard``."""

    force: bool = False


class ActionView(_Model):
    """A task's latest workspace action as ``TaskView.workspace_action`` shows it."""

    id: str
    kind: ActionKind
    status: ActionStatus
    message: str = ""
    remote: str | None = None
    pr: bool = False
    force: bool = False
    pr_url: str | None = None
    requested_by: str | None = None
    requested_at: str | None = None
    finished_at: str | None = None
