"""The contract between hub, agent daemon and CLI: the one package every side imports.

- :mod:`.wire` — the agent ⇄ hub wire models (PROTOCOL.md v1 + our extensions), task states,
  UTF-8-safe output cuts (pydantic only, no I/O).
- :mod:`.credentials` — the secret formats: registration tokens, API keys (stdlib only).
- :mod:`.events` — the hub's typed bus events (channels ``hub`` and ``task:{id}``), read by the
  SSE streams, the dashboard and the CLI.
- :mod:`.pushes` — the hub → agent pushes on ``agent:{id}`` (the :mod:`.wire` ``Ws*`` models).
- :mod:`.admin` — the admin API's bodies and objects (``TaskCreate``, ``ApprovalPolicy``, ...).
- :mod:`.shared` — the few stdlib-only helpers both sides need (atomic private write, a
  cancel-safe wait, an HTTP error's detail, UUID check).

``orchestratia.protocol`` re-exports the public names of wire, events, pushes and admin, so
``from orchestratia.protocol import TaskPayload`` keeps working. The
re-exports load lazily (PEP 562): importing :mod:`.shared` alone costs no pydantic import
(about 0.5 s of a 1.5 s CLI start on this machine).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE: dict[str, str] = {
    "API_PREFIX": "wire",
    "WS_PATH": "wire",
    "REGISTRATION_TOKEN_PREFIX": "credentials",
    "API_KEY_PREFIX": "credentials",
    "WS_AUTH_CLOSE_CODE": "wire",
    "WS_MAX_MESSAGE_BYTES": "wire",
    "WS_AUTH_FIRST_MESSAGE_TIMEOUT_S": "wire",
    "OFFLINE_AFTER_S": "wire",
    "HEARTBEAT_INTERVAL_S": "wire",
    "POLL_INTERVAL_S": "wire",
    "MAX_OUTPUT_CHUNK_BYTES": "wire",
    "FEATURE_OFFSETS": "wire",
    "FEATURE_PUSH": "wire",
    "FEATURE_BINARY": "wire",
    "whole_as_int": "wire",
    "Minutes": "wire",
    "TaskStatus": "wire",
    "FINAL_STATUSES": "wire",
    "TASK_TRANSITIONS": "wire",
    "can_transition": "wire",
    "InterventionStatus": "wire",
    "AgentStatus": "wire",
    "new_registration_token": "credentials",
    "hub_url_from_token": "credentials",
    "new_api_key": "credentials",
    "RegisterRequest": "wire",
    "RegisterResponse": "wire",
    "HeartbeatRequest": "wire",
    "TaskPayload": "wire",
    "ResumeSpec": "wire",
    "CompleteRequest": "wire",
    "FAIL_REASON_TIMEOUT": "wire",
    "FAIL_REASON_USAGE_LIMIT": "wire",
    "FAILURE_CAUSES": "wire",
    "FailRequest": "wire",
    "HELP_REQUEST_ID_MAX": "wire",
    "HelpRequest": "wire",
    "WsAuth": "wire",
    "WsAuthOk": "wire",
    "WsAuthError": "wire",
    "WsPing": "wire",
    "WsPong": "wire",
    "HelloTask": "wire",
    "WsHello": "wire",
    "ResumeTask": "wire",
    "WsResume": "wire",
    "WsOutput": "wire",
    "WsAck": "wire",
    "WsResend": "wire",
    "WsTaskAssigned": "wire",
    "WsTaskCancel": "wire",
    "WsInterventionAnswered": "wire",
    "WsError": "wire",
    "WsRevoked": "wire",
    "OutputStream": "wire",
    "AgentMessage": "wire",
    "HubMessage": "wire",
    "parse_agent_message": "wire",
    "parse_hub_message": "wire",
    "dump": "wire",
    "utf8_safe_cut": "wire",
    "utf8_safe_cut_at": "wire",
    "encode_output": "wire",
    "HUB_CHANNEL": "events",
    "TASK_CHANNEL_PREFIX": "events",
    "task_channel": "events",
    "TokenStatus": "events",
    "TaskEvent": "events",
    "AgentEvent": "events",
    "InterventionEvent": "events",
    "TokenEvent": "events",
    "TaskStatusEvent": "events",
    "TaskOutputEvent": "events",
    "HubEvent": "events",
    "AnyEvent": "events",
    "parse_event": "events",
    "channel_of": "events",
    "AGENT_CHANNEL_PREFIX": "pushes",
    "Push": "pushes",
    "AnyPush": "pushes",
    "agent_channel": "pushes",
    "parse_push": "pushes",
    "message_dict": "pushes",
    "ApprovalPolicy": "admin",
    "TASK_TITLE_MAX": "admin",
    "TASK_TIMEOUT_MAX_MINUTES": "admin",
    "IsoTime": "admin",
    "LoginRequest": "admin",
    "TokenCreate": "admin",
    "TaskCreate": "admin",
    "TaskCancel": "admin",
    "InterventionAnswer": "admin",
    "LoginResponse": "admin",
    "TaskView": "admin",
    "AgentView": "admin",
    "InterventionView": "admin",
    "TokenView": "admin",
    "TokenCreated": "admin",
}

if TYPE_CHECKING:  # for type checkers and IDEs; at run time names load on first use
    from .credentials import (  # noqa: F401
        API_KEY_PREFIX,
        REGISTRATION_TOKEN_PREFIX,
        hub_url_from_token,
        new_api_key,
        new_registration_token,
    )
    from .wire import (  # noqa: F401
        API_PREFIX,
        WS_PATH,
        WS_AUTH_CLOSE_CODE,
        WS_MAX_MESSAGE_BYTES,
        WS_AUTH_FIRST_MESSAGE_TIMEOUT_S,
        OFFLINE_AFTER_S,
        HEARTBEAT_INTERVAL_S,
        POLL_INTERVAL_S,
        MAX_OUTPUT_CHUNK_BYTES,
        FEATURE_OFFSETS,
        FEATURE_PUSH,
        FEATURE_BINARY,
        whole_as_int,
        Minutes,
        TaskStatus,
        FINAL_STATUSES,
        TASK_TRANSITIONS,
        can_transition,
        InterventionStatus,
        AgentStatus,
        RegisterRequest,
        RegisterResponse,
        HeartbeatRequest,
        TaskPayload,
        ResumeSpec,
        CompleteRequest,
        FAIL_REASON_TIMEOUT,
        FAIL_REASON_USAGE_LIMIT,
        FAILURE_CAUSES,
        FailRequest,
        HELP_REQUEST_ID_MAX,
        HelpRequest,
        WsAuth,
        WsAuthOk,
        WsAuthError,
        WsPing,
        WsPong,
        HelloTask,
        WsHello,
        ResumeTask,
        WsResume,
        WsOutput,
        WsAck,
        WsResend,
        WsTaskAssigned,
        WsTaskCancel,
        WsInterventionAnswered,
        WsError,
        WsRevoked,
        OutputStream,
        AgentMessage,
        HubMessage,
        parse_agent_message,
        parse_hub_message,
        dump,
        utf8_safe_cut,
        utf8_safe_cut_at,
        encode_output,
    )
    from .events import (  # noqa: F401
        HUB_CHANNEL,
        TASK_CHANNEL_PREFIX,
        task_channel,
        TokenStatus,
        TaskEvent,
        AgentEvent,
        InterventionEvent,
        TokenEvent,
        TaskStatusEvent,
        TaskOutputEvent,
        HubEvent,
        AnyEvent,
        parse_event,
        channel_of,
    )
    from .pushes import (  # noqa: F401
        AGENT_CHANNEL_PREFIX,
        Push,
        AnyPush,
        agent_channel,
        parse_push,
        message_dict,
    )
    from .admin import (  # noqa: F401
        ApprovalPolicy,
        TASK_TITLE_MAX,
        TASK_TIMEOUT_MAX_MINUTES,
        IsoTime,
        LoginRequest,
        TokenCreate,
        TaskCreate,
        TaskCancel,
        InterventionAnswer,
        LoginResponse,
        TaskView,
        AgentView,
        InterventionView,
        TokenView,
        TokenCreated,
    )

__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # next time: a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
