"""One question a task asks through the help relay, as the relay holds it while it runs.

The persisted part is ``record`` (a dict in the task's help state file, see :mod:`.state`); the
rest lives in memory only: the outcome (a future: the first one wins), the asker connections
listening for news, and the background coroutines that talk to the hub for it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class HelpRequest:
    task_id: str
    request_id: str
    record: dict[str, Any]  # persisted (the task's help state file)
    future: asyncio.Future[dict[str, Any]]  # the final line, once settled
    listeners: list[asyncio.Queue[str]] = field(default_factory=list)
    watcher: asyncio.Task[None] | None = None  # creates the intervention, then polls it
    withdrawer: asyncio.Task[Any] | None = None  # a withdraw still being retried after a timeout

    def background(self) -> list[asyncio.Task[Any]]:
        return [t for t in (self.watcher, self.withdrawer) if t is not None and not t.done()]

    def broadcast(self, item: str) -> None:
        for queue in self.listeners:
            queue.put_nowait(item)

    def final_line(self) -> dict[str, Any]:
        """The asker's final line for the outcome in the record."""
        rec = self.record
        final: dict[str, Any] = {"type": rec["status"], "request_id": self.request_id}
        if rec["status"] == "answered":
            final.update(intervention_id=rec.get("intervention_id"), response=rec.get("response") or "")
        elif rec["status"] == "error":
            final.update(code=rec.get("code", "internal"), detail=rec.get("reason") or "")
        else:
            final["reason"] = rec.get("reason") or ""
        return final


def error_line(code: str, detail: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail}


class RelayBook(Protocol):
    """What the relay's hub side (``relay_hub``) needs of the relay: its bookkeeping and timings.
    A protocol, so the parts depend on this and not on ``HelpRelay`` (no import back)."""

    poll_interval: float
    retry_max: float
    withdraw_wait: float

    def persist(self, task_id: str) -> None: ...

    def created(self, req: HelpRequest, intervention_id: str) -> str | None: ...

    def finish(self, req: HelpRequest, status: str, *, persist: bool = True, **fields: Any) -> bool: ...


class RelayDoor(Protocol):
    """What the relay's socket side (``relay_server``) needs of the relay: admitting a request."""

    keepalive_interval: float

    def admit(self, message: dict[str, Any]) -> HelpRequest | dict[str, Any]: ...
