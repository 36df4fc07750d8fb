"""Hub → agent pushes: what the hub publishes on the bus channel ``agent:{id}``.

Whichever hub process holds that agent's WebSocket forwards ``task_assigned``, ``task_cancel``,
``intervention_answered`` and (to a daemon whose hello listed ``workspace_actions``)
``workspace_action`` to it (only once the daemon said ``hello``, and each
``task_assigned`` once per connection); ``revoked`` is not forwarded: that process sends
``error`` and closes the socket with 4401. The messages are the wire models of
:mod:`.wire` (``type`` names them), so what the hub publishes is what the daemon parses.

:func:`message_dict` is the JSON object the hub sends for any hub → agent model: every field,
``None`` included, as the hub always sent them (``task_assigned`` carries ``"runner": null``);
the daemon's own messages go through :func:`.wire.dump`, which leaves ``None`` out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, TypeAdapter

from .wire import WsInterventionAnswered, WsRevoked, WsTaskAssigned, WsTaskCancel
from .workspace_actions import WsWorkspaceAction

AGENT_CHANNEL_PREFIX = "agent:"

Push = Annotated[
    Union[WsTaskAssigned, WsTaskCancel, WsInterventionAnswered, WsRevoked, WsWorkspaceAction],
    Field(discriminator="type"),
]
AnyPush = Union[WsTaskAssigned, WsTaskCancel, WsInterventionAnswered, WsRevoked, WsWorkspaceAction]

_push_adapter: TypeAdapter[Any] = TypeAdapter(Push)


def agent_channel(agent_id: str) -> str:
    """The bus channel of the pushes for one agent."""
    return f"{AGENT_CHANNEL_PREFIX}{agent_id}"


def parse_push(data: bytes | str | Mapping[str, Any]) -> AnyPush:
    """One push from its JSON (or the dict a bus subscription already decoded). Raises
    ``pydantic.ValidationError`` on bad input, naming the expected types for an unknown
    ``type``."""
    if isinstance(data, Mapping):
        return _push_adapter.validate_python(data)
    return _push_adapter.validate_json(data)


def message_dict(message: BaseModel) -> dict[str, Any]:
    """The JSON object the hub publishes or sends for a hub → agent message."""
    return message.model_dump(mode="json")
