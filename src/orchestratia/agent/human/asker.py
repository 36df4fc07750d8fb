"""The asking side: used by ``orchestratia ask``, the MCP server and the approval hook.

It reads the task's environment (``ORCHESTRATIA_TASK_ID``, ``ORCHESTRATIA_TASK_CREDENTIAL``,
``ORCHESTRATIA_SOCKET``), connects to the daemon's relay, and waits for the final line. When the
daemon is restarting (socket missing, connection refused or dropped) it reconnects with backoff
and sends the same request id again, so the relay resumes the same question.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestratia.agent.human import wire

ProgressFn = Callable[[dict[str, Any]], Awaitable[None] | None]


class NotInTask(Exception):
    """The environment of a task is missing: this is not running inside an Orchestratia task."""


@dataclass
class AskOutcome:
    status: str  # answered | cancelled | timeout | error
    response: str | None = None
    intervention_id: str | None = None
    reason: str = ""
    code: str | None = None

    @property
    def answered(self) -> bool:
        return self.status == "answered"


@dataclass(frozen=True)
class TaskContext:
    task_id: str
    credential: str
    socket_path: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TaskContext:
        env = os.environ if env is None else env
        values = [env.get(wire.ENV_TASK_ID), env.get(wire.ENV_TASK_CREDENTIAL), env.get(wire.ENV_SOCKET)]
        if not all(values):
            missing = [n for n, v in zip((wire.ENV_TASK_ID, wire.ENV_TASK_CREDENTIAL, wire.ENV_SOCKET), values) if not v]
            raise NotInTask(
                "not running inside an Orchestratia task (missing " + ", ".join(missing) + "); "
                "the agent daemon sets these variables for the tasks it runs"
            )
        return cls(*values)  # type: ignore[arg-type]


def _outcome(message: dict[str, Any]) -> AskOutcome:
    kind = message.get("type")
    if kind == "answered":
        return AskOutcome("answered", response=str(message.get("response") or ""),
                          intervention_id=message.get("intervention_id"))
    if kind == "error":
        return AskOutcome("error", reason=str(message.get("detail") or ""), code=message.get("code"))
    return AskOutcome(str(kind), reason=str(message.get("reason") or ""))


async def _notify(on_progress: ProgressFn | None, message: dict[str, Any]) -> None:
    if on_progress is not None:
        result = on_progress(message)
        if asyncio.iscoroutine(result):
            await result


async def ask(
    question: str,
    context: str | None = None,
    *,
    kind: str = wire.KIND_QUESTION,
    tool_name: str | None = None,
    tool_input: Any = None,
    timeout_s: float | None = None,
    request_id: str | None = None,
    env: Mapping[str, str] | None = None,
    on_progress: ProgressFn | None = None,
    give_up_after_s: float = 600.0,
) -> AskOutcome:
    """Ask a human through the daemon and wait. Raises :class:`NotInTask` outside a task.

    ``timeout_s``: stop waiting (outcome ``timeout``) after that long; None waits until the
    question is answered or cancelled. ``give_up_after_s``: how long the daemon may stay
    unreachable before the outcome is ``error`` (code ``unreachable``)."""
    task = TaskContext.from_env(env)
    request: dict[str, Any] = {
        "op": "ask", "task_id": task.task_id, "credential": task.credential,
        "request_id": request_id or uuid.uuid4().hex, "kind": kind, "question": question,
        "context": context, "tool_name": tool_name, "tool_input": tool_input,
    }
    started = time.monotonic()
    deadline = started + timeout_s + 2.0 if timeout_s is not None else None  # the relay times out first
    unreachable_since: float | None = None
    delay = 0.05
    while True:
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return AskOutcome("timeout", reason="no answer from a human in time")
        if timeout_s is not None:
            request["timeout_s"] = max(0.001, timeout_s - (now - started))
        try:
            reader, writer = await asyncio.open_unix_connection(task.socket_path, limit=wire.MAX_LINE_BYTES)
        except OSError as exc:
            unreachable_since = unreachable_since or now
            if now - unreachable_since >= give_up_after_s:
                return AskOutcome("error", code="unreachable",
                                  reason=f"the Orchestratia daemon is unreachable at {task.socket_path}: {exc}")
            await _notify(on_progress, {"type": "reconnecting", "detail": str(exc)})
            await asyncio.sleep(delay if deadline is None else max(0.0, min(delay, deadline - now)))
            delay = min(delay * 2, 2.0)
            continue
        unreachable_since, delay = None, 0.05
        try:
            final = await _exchange(reader, writer, request, deadline, on_progress)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ConnectionError):
                pass
        if final is not None:
            return final
        # dropped without a final line (daemon restarting): reconnect, same request id


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    request: dict[str, Any],
    deadline: float | None,
    on_progress: ProgressFn | None,
) -> AskOutcome | None:
    """Send the request, read until a final line. None when the connection dropped first."""
    try:
        writer.write(wire.encode(request))
        await writer.drain()
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return AskOutcome("timeout", reason="no answer from a human in time")
            line = await asyncio.wait_for(reader.readline(), remaining)
            if not line:
                return None
            try:
                message = wire.decode(line)
            except ValueError:
                continue
            if message.get("type") in wire.FINAL_TYPES:
                return _outcome(message)
            await _notify(on_progress, message)
    except asyncio.TimeoutError:
        return AskOutcome("timeout", reason="no answer from a human in time")
    except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError):
        return None


def ask_sync(question: str, context: str | None = None, **kwargs: Any) -> AskOutcome:
    """:func:`ask` for synchronous callers (the CLI, the hook)."""
    return asyncio.run(ask(question, context, **kwargs))
