"""Hub events: what the hub publishes on its bus after a commit, for live viewers.

Two channels carry events (``agent:{id}`` carries pushes, see :mod:`.pushes`):

- ``hub`` — one object changed: :class:`TaskEvent`, :class:`AgentEvent`,
  :class:`InterventionEvent`, :class:`TokenEvent`. ``GET /api/admin/events`` sends each as
  ``event: <kind>`` with the JSON below as ``data``; the dashboard and the CLI read them.
- ``task:{id}`` — one task's live view: :class:`TaskStatusEvent` and :class:`TaskOutputEvent`.
  Neither carries the task id in its JSON (the channel names the task); the models hold it in
  ``task_id``, which is left out of the JSON and filled back by :func:`parse_event` when it is
  given the channel.

The JSON of each model is exactly the dict the hub published before these models existed
(same keys, same order, same values), so SSE clients see no change. The type is named by
``kind`` (pushes use ``type``). Events are frozen; parsing ignores unknown fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, TypeAdapter

from .wire import AgentStatus, InterventionStatus, OutputStream, TaskStatus

HUB_CHANNEL = "hub"
TASK_CHANNEL_PREFIX = "task:"


def task_channel(task_id: str) -> str:
    """The channel of one task's live view."""
    return f"{TASK_CHANNEL_PREFIX}{task_id}"


class TokenStatus(str, Enum):
    """A registration token's status as the admin API computes it."""

    ACTIVE = "active"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @property
    def channel(self) -> str:
        return HUB_CHANNEL

    def to_dict(self) -> dict[str, Any]:
        """The JSON object to publish (enum members as their values)."""
        return self.model_dump(mode="json")


# --------------------------------------------------------------------------- channel "hub"


class TaskEvent(_Event):
    """A task was created or changed status, or its ``waiting_for_human`` changed (a question
    asked or withdrawn). ``agent_id`` is required (None for a task no agent holds): an
    ``assigned`` event names the agent the hub's assigned-task index must note."""

    kind: Literal["task"] = "task"
    id: str
    status: TaskStatus
    agent_id: str | None


class AgentEvent(_Event):
    """An agent registered, came online, went offline or was revoked."""

    kind: Literal["agent"] = "agent"
    id: str
    status: AgentStatus


class InterventionEvent(_Event):
    """A question or approval was asked (``pending``), answered, cancelled or withdrawn."""

    kind: Literal["intervention"] = "intervention"
    id: str
    status: InterventionStatus
    task_id: str


class TokenEvent(_Event):
    """A registration token was created (``active``) or revoked (``revoked``)."""

    kind: Literal["token"] = "token"
    id: str
    status: TokenStatus


class BudgetEvent(_Event):
    """A daily budget was reached (once per budget and UTC day): new tasks wait until the next
    day or a higher limit (docs/scheduling.md, "Budgets"). ``label`` '' is the hub-wide one."""

    kind: Literal["budget"] = "budget"
    id: str
    label: str
    daily_usd: float
    spent_usd: float
    day: str


# --------------------------------------------------------------------------- channel "task:{id}"


class _TaskChannelEvent(_Event):
    #: not in the JSON: the channel names the task
    task_id: str | None = Field(default=None, exclude=True)

    @property
    def channel(self) -> str:
        if self.task_id is None:
            raise ValueError(f"a {type(self).__name__} without task_id has no channel: pass channel= to parse_event")
        return task_channel(self.task_id)


class TaskStatusEvent(_TaskChannelEvent):
    """The task's status changed (live viewers re-read the task)."""

    kind: Literal["status"] = "status"
    status: TaskStatus


class TaskOutputEvent(_TaskChannelEvent):
    """Output bytes ``[offset, offset + length)`` were stored; ``text`` is them decoded as UTF-8
    with replacement (the exact bytes are at ``GET /api/admin/tasks/{id}/output``)."""

    kind: Literal["output"] = "output"
    offset: NonNegativeInt
    length: NonNegativeInt
    stream: OutputStream
    text: str

    @classmethod
    def of_bytes(cls, task_id: str, offset: int, data: bytes, stream: OutputStream = "stdout") -> TaskOutputEvent:
        """The event for ``data`` stored at ``offset``."""
        text = data.decode("utf-8", errors="replace")
        return cls(task_id=task_id, offset=offset, length=len(data), stream=stream, text=text)

    def sse_data(self) -> dict[str, Any]:
        """The ``data`` of the task stream's ``event: output``: the event without ``kind``."""
        return self.model_dump(mode="json", exclude={"kind"})


HubEvent = Annotated[
    Union[TaskEvent, AgentEvent, InterventionEvent, TokenEvent, BudgetEvent, TaskStatusEvent, TaskOutputEvent],
    Field(discriminator="kind"),
]
AnyEvent = Union[TaskEvent, AgentEvent, InterventionEvent, TokenEvent, BudgetEvent, TaskStatusEvent,
                 TaskOutputEvent]

_event_adapter: TypeAdapter[Any] = TypeAdapter(HubEvent)


def parse_event(data: bytes | str | Mapping[str, Any], channel: str | None = None) -> AnyEvent:
    """One event from its JSON (or the dict a bus subscription already decoded).

    With ``channel`` (``task:{id}``), a task-channel event gets its ``task_id`` from it. Raises
    ``pydantic.ValidationError`` on bad input, naming the expected kinds for an unknown
    ``kind``."""
    if isinstance(data, Mapping):
        event = _event_adapter.validate_python(data)
    else:
        event = _event_adapter.validate_json(data)
    if (
        isinstance(event, _TaskChannelEvent)
        and event.task_id is None
        and channel is not None
        and channel.startswith(TASK_CHANNEL_PREFIX)
    ):
        event = event.model_copy(update={"task_id": channel[len(TASK_CHANNEL_PREFIX) :]})
    return event


def channel_of(event: AnyEvent) -> str:
    """The bus channel ``event`` is published on: ``hub`` or ``task:{id}``."""
    return event.channel
