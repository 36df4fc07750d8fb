"""SQLAlchemy 2 models. The schema itself comes from Alembic migrations (``migrations/``)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.sql.expression import false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which stores naive) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Admin(Base):
    __tablename__ = "admins"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AdminSession(Base):
    __tablename__ = "admin_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    admin_id: Mapped[str] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hostname: Mapped[str] = mapped_column(String(500), default="")
    ip: Mapped[str] = mapped_column(String(100), default="")
    os: Mapped[str] = mapped_column(String(500), default="")
    repos: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    system_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    runners: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    agent_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    max_concurrent_tasks: Mapped[int] = mapped_column(Integer, default=2)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # migration 0008: the daemon's extension features (capabilities report) and the disk its
    # task worktrees use (heartbeat: {"total_bytes", "worktrees", "measured_at"})
    features: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    workspace_disk: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class RegistrationToken(Base):
    __tablename__ = "registration_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    label: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_agent_id_status", "agent_id", "status"),
        Index("ix_tasks_status_created_at", "status", "created_at"),
        Index("ix_tasks_created_at", "created_at"),
        # migration 0009: the scheduler reads the queue by priority, then age
        Index("ix_tasks_status_priority_created_at", "status", "priority", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(500))
    spec: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    target_repo: Mapped[str] = mapped_column(String(200), default="")
    runner: Mapped[str | None] = mapped_column(String(50), nullable=True)
    timeout_minutes: Mapped[float | None] = mapped_column(Float, nullable=True)  # fractions allowed (migration 0002)
    approval_policy: Mapped[str | None] = mapped_column(String(50), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    waiting_for_human: Mapped[bool] = mapped_column(Boolean, default=False)
    output_size: Mapped[int] = mapped_column(BigInteger, default=0)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # migration 0005: what the task asked for ({"kind", "base_ref", "branch"}) and the agent's
    # workspace summary once reported (its files and diff are in task_diffs)
    workspace_request: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    workspace: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # migration 0006: why a run failed or ended (docs/scheduling.md), the labels an agent must
    # have, the queue order (1 high, 0 normal, -1 low), the task a reply continues. parent_id is
    # a plain indexed column, not a foreign key: SQLite's ALTER TABLE cannot add one.
    failure_cause: Mapped[str | None] = mapped_column(String(40), nullable=True)
    labels: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    parent_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    # migration 0007: the CLI's conversation id of the task's run (from result.session_id),
    # what the task continues ({"parent_id", "session_id", "worktree_of", "branch", "kind"}), and
    # until when a task parked by a usage limit waits
    session_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resume: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    parked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # migration 0008: the pull request opened for the task's branch, and its latest workspace
    # action as shown (protocol.workspace_actions.ActionView; the queue is workspace_actions)
    pr_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    workspace_action: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # migration 0009: the concurrency group (docs/scheduling.md, "Groups"); None: no group
    group_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # migration 0010: the pipeline the task belongs to and its name there; deps_pending: true while
    # a task it depends on (task_dependencies) has not completed: never assigned nor handed out
    pipeline_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    pipeline_node: Mapped[str | None] = mapped_column(String(200), nullable=True)
    deps_pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # migration 0011 (docs/scheduling.md, "Retries" and "Budgets"): the retry policy, the hold
    # of a rerun's backoff, automatic re-queues, where the current attempt's output starts, the
    # agent the task was created for, the cost limit and the reported cost and tokens (summed)
    retry: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retry_on: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    requeues: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    output_base: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    requested_agent_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    max_cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    input_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class TaskGroup(Base):
    """A concurrency group's fleet-wide limit (migration 0009): at most ``max_active`` of its
    tasks assigned or running at once. A group named by tasks but without a row has no limit."""

    __tablename__ = "task_groups"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    max_active: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TaskAttempt(Base):
    """One ended run of a task (migration 0011): who ran it, when, how it ended and why, the
    range of the task's output it wrote, what it cost."""

    __tablename__ = "task_attempts"
    __table_args__ = (
        UniqueConstraint("task_id", "number"),
        Index("ix_task_attempts_finished_at", "finished_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    agent_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    cause: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    output_start: Mapped[int] = mapped_column(BigInteger, default=0)
    output_end: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    input_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    output_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Budget(Base):
    """A daily spending limit (migration 0011): hub-wide (``label`` '') or for one label."""

    __tablename__ = "budgets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    label: Mapped[str] = mapped_column(String(200), unique=True)
    daily_usd: Mapped[float] = mapped_column(Float)
    #: the UTC day (YYYY-MM-DD) the admin was last told it was reached: once a day
    notified_on: Mapped[str | None] = mapped_column(String(10), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TaskDiff(Base):
    """A task's changed files and unified diff (migration 0005), apart from the task row so
    listing tasks never reads megabytes of diff."""

    __tablename__ = "task_diffs"

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    files: Mapped[list[Any]] = mapped_column(JSON, default=list)
    diff: Mapped[str] = mapped_column(Text, default="")
    diff_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WorkspaceAction(Base):
    """A push / pull request / discard an admin asked for (migration 0008): ``pending`` until
    the task's agent reports ``done`` or ``failed`` with its message."""

    __tablename__ = "workspace_actions"
    __table_args__ = (Index("ix_workspace_actions_agent_id_status", "agent_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    pr_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    requested_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OutputChunk(Base):
    __tablename__ = "output_chunks"
    __table_args__ = (UniqueConstraint("task_id", "offset"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    stream: Mapped[str] = mapped_column(String(10), default="stdout")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Intervention(Base):
    __tablename__ = "interventions"
    __table_args__ = (
        Index("ix_interventions_status_created_at", "status", "created_at"),
        # one intervention per (task, request_id): a retried help request finds the first one.
        # NULLs are distinct on SQLite and PostgreSQL, so clients without request_id are unaffected
        Index("uq_interventions_task_id_request_id", "task_id", "request_id", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    question: Mapped[str] = mapped_column(Text)
    context: Mapped[str | None] = mapped_column(Text, nullable=True)
    response: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: "question" or "approval" (a tool call waiting for Approve / Deny; see docs/human-in-the-loop.md)
    kind: Mapped[str] = mapped_column(String(20), default="question", server_default="question")
    tool_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    tool_input: Mapped[Any] = mapped_column(JSON, nullable=True)
    #: the help request's idempotency key (extension; null for clients that send none)
    request_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: when the agent stopped waiting (status "withdrawn")
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TaskDependency(Base):
    """``task_id`` starts only once ``depends_on_id`` completed (migration 0010)."""

    __tablename__ = "task_dependencies"

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    depends_on_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True,
                                               index=True)


class Pipeline(Base):
    """A named graph of tasks created from one file (migration 0010); its members carry its id."""

    __tablename__ = "pipelines"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
