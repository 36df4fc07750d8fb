"""The wire contract between hub and agent daemon (see docs/protocol.md and PROTOCOL.md).

This is the one module that both ``orchestratia.hub`` and ``orchestratia.agent`` import.
It holds pydantic models for every v1 body and WebSocket message, the task state enum,
and the secrets' prefixes (re-exported from ``credentials.py``, which makes them). It has no
I/O and no dependency beyond pydantic.

Every model ignores unknown fields (both sides must), and the v1 models keep v1 names.
"""

from __future__ import annotations

import base64
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, SerializerFunctionWrapHandler, TypeAdapter, model_serializer

from .credentials import API_KEY_PREFIX as API_KEY_PREFIX, REGISTRATION_TOKEN_PREFIX as REGISTRATION_TOKEN_PREFIX
from .workspace_actions import WorkspaceDisk, WsWorkspaceAction

# --------------------------------------------------------------------------- constants

API_PREFIX = "/api/v1/agents"
WS_PATH = "/ws/agent"
WS_AUTH_CLOSE_CODE = 4401
WS_MAX_MESSAGE_BYTES = 1024 * 1024
WS_AUTH_FIRST_MESSAGE_TIMEOUT_S = 10.0
OFFLINE_AFTER_S = 90.0
HEARTBEAT_INTERVAL_S = 30.0
POLL_INTERVAL_S = 10.0
#: The largest ``content`` our daemon puts into one ``output`` message, in bytes.
MAX_OUTPUT_CHUNK_BYTES = 64 * 1024

#: Features a daemon may list in ``hello``.
FEATURE_OFFSETS = "offsets"  # output carries offset/length; hub acks / asks to resend
FEATURE_PUSH = "push"  # hub pushes task_assigned / task_cancel / intervention_answered
FEATURE_BINARY = "binary"  # output may carry encoding="base64" for bytes that are not UTF-8


class _Wire(BaseModel):
    """Base for all wire models: unknown fields are ignored, as PROTOCOL.md requires."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def whole_as_int(value: float | int | None) -> float | int | None:
    """A number of minutes for the wire: whole values as JSON integers (``30``, not ``30.0``:
    v1 daemons expect integers), fractions as they are (``0.05``)."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


#: ``timeout_minutes``: a float on the wire (fractions of a minute), whole values sent as integers
Minutes = Annotated[float, PlainSerializer(whole_as_int)]


# --------------------------------------------------------------------------- task states


class TaskStatus(str, Enum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    LOST = "lost"
    #: extension, hub-side only: a usage limit stopped the run; it resumes at ``parked_until``
    #: (docs/scheduling.md). Never in a payload (poll and task_assigned carry assigned tasks).
    PARKED = "parked"


FINAL_STATUSES = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.TIMED_OUT, TaskStatus.LOST}
)

#: Allowed transitions. ``lost`` may still turn into completed/failed (a late report is accepted).
TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.QUEUED: frozenset({TaskStatus.ASSIGNED, TaskStatus.CANCELLED}),
    TaskStatus.ASSIGNED: frozenset(
        {TaskStatus.RUNNING, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.QUEUED}
    ),
    # running -> queued: a run that failed for a cause the task reruns on (docs/scheduling.md,
    # "Retries"); the task is never final in between, so watchers keep watching
    TaskStatus.RUNNING: frozenset(
        {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.TIMED_OUT, TaskStatus.LOST,
         TaskStatus.PARKED, TaskStatus.QUEUED}
    ),
    # resumed on its agent at the reset (assigned), cancelled, or failed (its agent revoked)
    TaskStatus.PARKED: frozenset({TaskStatus.ASSIGNED, TaskStatus.CANCELLED, TaskStatus.FAILED}),
    TaskStatus.LOST: frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED}),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
    TaskStatus.TIMED_OUT: frozenset(),
}


def can_transition(current: TaskStatus, target: TaskStatus) -> bool:
    return target in TASK_TRANSITIONS[current]


class InterventionStatus(str, Enum):
    PENDING = "pending"
    ANSWERED = "answered"
    CANCELLED = "cancelled"
    #: extension: the agent stopped waiting (``POST /interventions/{id}/withdraw``); no longer
    #: answerable. Only a daemon that withdrew a question ever sees it.
    WITHDRAWN = "withdrawn"


class AgentStatus(str, Enum):
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    REVOKED = "REVOKED"


# --------------------------------------------------------------------------- v1 agent API


class RegisterRequest(_Wire):
    name: str = Field(min_length=1, max_length=200)
    hostname: str = ""
    ip: str = ""
    os: str = ""
    repos: dict[str, Any] = Field(default_factory=dict)  # name -> path (str) or {"path", "branch"}
    system_info: dict[str, Any] = Field(default_factory=dict)
    registration_token: str
    # extensions (our daemon)
    agent_version: str | None = None
    labels: list[str] = Field(default_factory=list)
    runners: list[str] | None = None
    max_concurrent_tasks: int | None = Field(default=None, ge=1, le=1000)
    #: take the name even from a live agent (its key is revoked); v1 daemons never send it
    replace: bool = False


class RegisterResponse(_Wire):
    id: str
    name: str
    api_key: str
    #: extension: an existing agent's key was revoked by this registration (it took the name)
    replaced: bool = False


class HeartbeatRequest(_Wire):
    system_info: dict[str, Any] = Field(default_factory=dict)
    active_tasks: list[str] | None = None
    agent_version: str | None = None
    #: extension: disk used by the agent's task worktrees (docs/protocol.md)
    workspace_disk: WorkspaceDisk | None = None


class CapabilitiesRequest(_Wire):
    """Extension ``POST /capabilities``: what this agent can run now, sent by our daemon on every
    start and config reload (v1 daemons never send it; their registration stays the record)."""

    runners: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=100)
    repos: dict[str, Any] = Field(default_factory=dict, max_length=1000)  # name -> path or {"path", "branch"}
    labels: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=200)
    max_concurrent_tasks: int | None = Field(default=None, ge=1, le=1000)
    #: what this daemon can do beyond v1, e.g. ``workspace_actions`` (None: an older daemon)
    features: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=100)


#: a CLI's conversation id (Claude Code ``session_id``, Codex ``thread_id``) that the daemon may
#: put on a command line: it never starts with ``-`` (it cannot be taken for a flag)
CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"


class ResumeSpec(_Wire):
    """Extension of :class:`TaskPayload` (v1 daemons ignore it): this task continues an earlier
    run. ``session_id``: the CLI's conversation to resume (None: the CLI starts fresh with the
    task's spec). ``worktree_of``: the task whose worktree (under the agent's workspace root)
    the task runs in, recreated from ``branch`` when it was removed. ``kind``: the workspace
    kind of that run (``worktree`` or ``in_place``)."""

    session_id: str | None = Field(default=None, pattern=CONVERSATION_ID_PATTERN)
    worktree_of: str | None = Field(default=None, max_length=36)
    branch: str | None = Field(default=None, max_length=250)
    kind: str | None = Field(default=None, max_length=20)
    #: the task this one continues (a reply's parent; a parked task itself)
    parent_id: str | None = Field(default=None, max_length=36)
    #: what to tell the resumed conversation (None: the task's spec); a parked task that resumes
    #: itself says to go on
    message: str | None = None
    #: how many times the task has resumed itself after a park (0 for a reply)
    attempt: int = 0


class TaskPayload(_Wire):
    """A task as ``GET /tasks/poll`` returns it and ``task_assigned`` carries it."""

    id: str
    title: str
    spec: str
    target_repo: str = ""
    status: TaskStatus
    runner: str | None = None  # None: the agent's default runner
    timeout_minutes: Minutes | None = None  # may be fractional (0.05 = 3 s); whole values go as integers
    created_at: datetime | None = None
    #: one of ``admin.ApprovalPolicy``'s values, kept a plain string on purpose: our daemon treats
    #: a policy it does not know as ``all`` (fails closed), whereas an enum here would make it
    #: refuse the whole task from a hub that has a newer policy
    approval_policy: str | None = None
    #: extensions (v1 daemons ignore them): where the task runs in its repo. ``workspace``:
    #: ``"worktree"`` (its own branch and worktree) or ``"in_place"`` (the repo's checkout);
    #: None: the agent's config decides. ``base_ref``: the commit to branch from (``--base``);
    #: ``branch``: an existing branch to continue (``--branch``). Plain strings, checked by the
    #: daemon, for the reason given for ``approval_policy``.
    workspace: str | None = None
    base_ref: str | None = None
    branch: str | None = None
    #: extension: a reply (or a parked task resuming) continues a conversation and a worktree
    resume: ResumeSpec | None = None
    #: extension (v1 daemons ignore it): the task's cost limit in USD (``--max-cost``); our daemon
    #: passes it to Claude Code as ``--max-budget-usd`` (docs/scheduling.md, "Budgets")
    max_cost_usd: float | None = None
    #: extension: the number of the task's current run (1 first; a rerun is 2, 3, ...)
    attempt: int | None = None


class CompleteRequest(_Wire):
    result: dict[str, Any] = Field(default_factory=dict)


#: ``FailRequest.reason`` of our daemon when its own timeout stopped the task (extension)
FAIL_REASON_TIMEOUT = "timeout"


#: ``FailRequest.reason`` of our daemon when the CLI hit its usage limit (extension): a hub
#: that knows it parks the task until ``resets_at`` and then resumes it
FAIL_REASON_USAGE_LIMIT = "usage_limit"


class FailRequest(_Wire):
    error: str = ""
    exit_code: int | None = None
    result: dict[str, Any] | None = None
    #: extension (old hubs ignore it): ``"timeout"`` — the daemon's own timeout stopped the
    #: task, so a hub that knows it ends the task ``timed_out`` instead of ``failed``;
    #: ``"usage_limit"`` — the CLI's usage limit stopped it, until ``resets_at``
    reason: str | None = None
    resets_at: datetime | None = None
    #: extension (old hubs ignore it): why the run failed as the daemon knows it, one of
    #: ``FAILURE_CAUSES`` (a plain string: a hub that does not know a cause infers its own)
    cause: str | None = Field(default=None, max_length=40)


#: why a run failed or ended (``tasks.failure_cause``; docs/scheduling.md, "Retries"). The daemon
#: sends the ones it knows in ``FailRequest.cause``; the hub decides timeouts and lost agents.
FAILURE_CAUSES = ("agent_lost", "launch_failed", "runner_failed", "timed_out", "max_turns", "budget",
                  "usage_limit", "cancelled", "dependency_failed")


#: the longest ``HelpRequest.request_id`` a hub accepts
HELP_REQUEST_ID_MAX = 200


class HelpRequest(_Wire):
    question: str = Field(min_length=1, max_length=100_000)
    context: str | None = Field(default=None, max_length=1_000_000)
    # extensions (our daemon): a tool-call approval (docs/human-in-the-loop.md)
    kind: Literal["question", "approval"] | None = None
    tool_name: str | None = Field(default=None, max_length=500)
    tool_input: Any = None
    #: extension: an idempotency key the client generates (a uuid4) and sends again on every
    #: retry of the same question; the hub then answers with the intervention it already made
    request_id: str | None = Field(default=None, min_length=1, max_length=HELP_REQUEST_ID_MAX)


# --------------------------------------------------------------------------- WebSocket


class WsAuth(_Wire):
    type: Literal["auth"] = "auth"
    api_key: str


class WsAuthOk(_Wire):
    type: Literal["auth_ok"] = "auth_ok"
    agent_id: str


class WsAuthError(_Wire):
    type: Literal["auth_error"] = "auth_error"
    detail: str


class WsPing(_Wire):
    type: Literal["ping"] = "ping"


class WsPong(_Wire):
    type: Literal["pong"] = "pong"


class HelloTask(_Wire):
    task_id: str
    log_size: int = Field(default=0, ge=0)


class WsHello(_Wire):
    type: Literal["hello"] = "hello"
    agent_version: str | None = None
    features: list[str] = Field(default_factory=list)
    tasks: list[HelloTask] = Field(default_factory=list)


class ResumeTask(_Wire):
    task_id: str
    next_offset: int


class WsResume(_Wire):
    type: Literal["resume"] = "resume"
    tasks: list[ResumeTask] = Field(default_factory=list)
    #: the daemon's ``hello`` features this hub speaks beyond the base extensions (so far only
    #: ``output_frames``); absent from older hubs, which is how the daemon knows to send JSON
    features: list[str] | None = None

    @model_serializer(mode="wrap")
    def _features_only_when_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """No ``features`` key at all unless the hub confirms one: a ``resume`` without them
        stays exactly the message every daemon already reads."""
        data = handler(self)
        if data.get("features") is None:
            data.pop("features", None)
        return data


#: where a piece of a task's output came from
OutputStream = Literal["stdout", "stderr", "system"]


class WsOutput(_Wire):
    """v1: ``task_id, content, stream``; extension: ``offset, length`` (raw log bytes) and
    ``encoding="base64"`` when the byte range is not valid UTF-8 (feature ``binary``)."""

    type: Literal["output"] = "output"
    task_id: str
    content: str
    stream: OutputStream = "stdout"
    offset: int | None = Field(default=None, ge=0)
    length: int | None = Field(default=None, ge=0)
    encoding: Literal["utf-8", "base64"] | None = None

    def raw_bytes(self) -> bytes:
        """The bytes this message carries, as the agent logged them."""
        if self.encoding == "base64":
            return base64.b64decode(self.content, validate=True)
        return self.content.encode("utf-8", errors="replace")


class WsAck(_Wire):
    type: Literal["ack"] = "ack"
    task_id: str
    next_offset: int


class WsResend(_Wire):
    type: Literal["resend"] = "resend"
    task_id: str
    from_offset: int


class WsTaskAssigned(_Wire):
    type: Literal["task_assigned"] = "task_assigned"
    task: TaskPayload


class WsTaskCancel(_Wire):
    type: Literal["task_cancel"] = "task_cancel"
    task_id: str
    reason: str = ""


class WsInterventionAnswered(_Wire):
    type: Literal["intervention_answered"] = "intervention_answered"
    intervention_id: str
    task_id: str
    response: str


class WsError(_Wire):
    type: Literal["error"] = "error"
    detail: str


class WsRevoked(_Wire):
    """The agent was revoked. Published on the bus channel ``agent:{id}``: the hub process
    holding the agent's socket then sends it ``error`` and closes it with 4401. It is in
    :data:`HubMessage` so every message on that channel parses; a daemon that ever received it
    would ignore it as an unknown type (v1 daemons ignore unknown types), so adding it is
    compatible."""

    type: Literal["revoked"] = "revoked"


AgentMessage = Annotated[Union[WsAuth, WsPing, WsHello, WsOutput], Field(discriminator="type")]
HubMessage = Annotated[
    Union[
        WsAuthOk,
        WsAuthError,
        WsPong,
        WsResume,
        WsAck,
        WsResend,
        WsTaskAssigned,
        WsTaskCancel,
        WsInterventionAnswered,
        WsError,
        WsRevoked,
        WsWorkspaceAction,
    ],
    Field(discriminator="type"),
]

_agent_message_adapter: TypeAdapter[Any] = TypeAdapter(AgentMessage)
_hub_message_adapter: TypeAdapter[Any] = TypeAdapter(HubMessage)


def parse_agent_message(data: str | bytes) -> WsAuth | WsPing | WsHello | WsOutput:
    """Parse one agent → hub message. Raises ``pydantic.ValidationError`` on bad input
    (including unknown ``type``)."""
    return _agent_message_adapter.validate_json(data)


def parse_hub_message(data: str | bytes) -> Any:
    """Parse one hub → agent message. Raises ``pydantic.ValidationError`` on bad input."""
    return _hub_message_adapter.validate_json(data)


def dump(message: BaseModel) -> str:
    """Serialize a wire model to compact JSON (no ``None`` extension fields)."""
    return message.model_dump_json(exclude_none=True)


# --------------------------------------------------------------------------- output splitting


def utf8_safe_cut(data: bytes, limit: int) -> int:
    """The largest n <= limit such that ``data[:n]`` does not end inside a UTF-8 character.

    Bytes that are not valid UTF-8 count as single characters. Returns at least 1 when
    ``data`` is not empty and ``limit >= 1`` (a lone byte is always a valid cut)."""
    return utf8_safe_cut_at(data, 0, limit)


def utf8_safe_cut_at(data: bytes, start: int, limit: int) -> int:
    """Where a chunk of ``data`` starting at ``start`` ends: ``start + utf8_safe_cut(data[start:],
    limit)`` without copying the rest of ``data``: the largest end <= ``start + limit`` that does
    not fall inside a UTF-8 character; at least ``start + 1`` when there is data left and
    ``limit >= 1``."""
    end = start + min(limit, len(data) - start)
    if end >= len(data) or end <= start:
        return max(end, start)
    i = end
    back = 0
    while i > start and back < 4 and (data[i] & 0xC0) == 0x80:  # walk back over continuation bytes
        i -= 1
        back += 1
    if back == 0:
        return end
    lead = data[i]
    need = 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4 if lead >> 3 == 0b11110 else 0
    if need and i + need > end and i > start:
        return i  # the character starting at i would be split: cut before it
    return end


def encode_output(task_id: str, data: bytes, offset: int, stream: str = "stdout") -> WsOutput:
    """One ``output`` message for ``data`` logged at ``offset``: UTF-8 text when it decodes,
    base64 otherwise."""
    try:
        content, encoding = data.decode("utf-8"), None
    except UnicodeDecodeError:
        content, encoding = base64.b64encode(data).decode("ascii"), "base64"
    return WsOutput(
        task_id=task_id, content=content, stream=stream, offset=offset, length=len(data), encoding=encoding
    )
