"""The local help-relay protocol: a running task ⇄ the agent daemon, over a Unix socket.

JSON lines (UTF-8, one object per line). The asker sends ONE request line, the relay answers
with zero or more progress lines and exactly one final line, then closes.

Request (asker → relay)::

    {"op": "ask", "task_id", "credential", "request_id",
     "kind": "question" | "approval", "question", "context",
     "tool_name", "tool_input", "timeout_s"}

``request_id`` is chosen by the asker and is the idempotency key: asking again with the same
id (after a dropped connection or a daemon restart) resumes the wait for the same intervention,
it never asks the hub twice. ``timeout_s`` (optional) counts from the first time the relay saw
the request id.

Progress lines (relay → asker): ``{"type": "accepted", "request_id", "intervention_id"}`` once
the hub knows the question, ``{"type": "keepalive", "waited_s"}`` every few seconds.

Final lines (relay → asker), exactly one:

- ``{"type": "answered", "request_id", "intervention_id", "response"}``
- ``{"type": "cancelled", "request_id", "reason"}`` — intervention or task cancelled / ended
- ``{"type": "timeout", "request_id", "reason"}``
- ``{"type": "error", "code", "detail"}`` — ``code`` is ``unauthorized`` (unknown task or bad
  credential), ``bad_request``, ``refused`` (the hub refused the help request) or ``internal``.
"""

from __future__ import annotations

import json
from typing import Any

#: Environment of a task process (set by the daemon; never the agent's API key).
ENV_TASK_ID = "ORCHESTRATIA_TASK_ID"
ENV_TASK_CREDENTIAL = "ORCHESTRATIA_TASK_CREDENTIAL"
ENV_SOCKET = "ORCHESTRATIA_SOCKET"

SOCKET_NAME = "orchestratia.sock"
#: Largest request line accepted (a context may be up to 1 MB on the hub).
MAX_LINE_BYTES = 4 * 1024 * 1024

KIND_QUESTION = "question"
KIND_APPROVAL = "approval"
KINDS = (KIND_QUESTION, KIND_APPROVAL)

FINAL_TYPES = frozenset({"answered", "cancelled", "timeout", "error"})

MCP_SERVER_NAME = "orchestratia"
MCP_TOOL_NAME = "ask_human"
#: The name Claude Code gives our tool (add it to ``--allowedTools``).
MCP_ALLOWED_TOOL = f"mcp__{MCP_SERVER_NAME}__{MCP_TOOL_NAME}"


def encode(message: dict[str, Any]) -> bytes:
    """One JSON line. ``ensure_ascii`` keeps any newline inside values escaped."""
    return (json.dumps(message, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")


def decode(line: bytes) -> dict[str, Any]:
    """Parse one line into a JSON object; raises ``ValueError`` for anything else."""
    value = json.loads(line.decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError("a message must be a JSON object")
    return value
