"""The admin API's pipeline objects (``/api/admin/pipelines``; docs/admin-api.md).

A pipeline is a named graph of tasks created in one request: each node is a task body
(:class:`~.admin.TaskCreate`'s fields) with a unique ``name`` and the names it ``needs``. The hub
checks the graph (unknown needs, cycles, duplicate names) and stores nothing when it is wrong.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from .admin import IsoTime, TaskCreate, _Body, _Read
from .wire import TaskStatus

#: a node's name: what ``needs`` and ``{{ needs.NAME.result }}`` refer to
NODE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"
NodeName = Annotated[str, Field(pattern=NODE_NAME_PATTERN)]
#: the most tasks one pipeline may hold
PIPELINE_MAX_NODES = 200


class PipelineNode(TaskCreate):
    """One task of a pipeline. Unknown fields are errors here (a misspelt ``need:`` would
    otherwise be a silently independent task)."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    name: NodeName
    title: str | None = Field(default=None, max_length=500)  # type: ignore[assignment]  # default: the name
    needs: list[NodeName] = Field(default_factory=list, max_length=50)
    after: list[str] = Field(default_factory=list, max_length=0)  # a pipeline uses needs


class PipelineCreate(_Body):
    """``POST /pipelines``: either ``yaml`` (the file's text; the hub parses it) or ``name`` and
    ``tasks`` (the same, already parsed)."""

    yaml: str | None = Field(default=None, max_length=1_000_000)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    tasks: list[PipelineNode] | None = Field(default=None, max_length=PIPELINE_MAX_NODES)


class PipelineCancel(_Body):
    """``POST /pipelines/{id}/cancel`` (the body is optional)."""

    reason: str | None = Field(default=None, max_length=2000)


PipelineStatus = Literal["queued", "running", "completed", "failed", "cancelled"]


class PipelineNodeView(_Read):
    name: str
    task_id: str
    title: str
    status: TaskStatus
    needs: list[str]
    depth: int  # 0: needs nothing; else 1 + the deepest of its needs
    failure_cause: str | None = None
    cancel_reason: str | None = None


class PipelineView(_Read):
    """A pipeline as ``GET /pipelines``, ``GET /pipelines/{id}``, create and cancel return it."""

    id: str
    name: str
    status: PipelineStatus
    created_at: IsoTime | None
    created_by: str | None = None
    cancelled_at: IsoTime | None = None
    cancel_reason: str | None = None
    counts: dict[str, int] = {}  # members per status
    nodes: list[PipelineNodeView] = []
