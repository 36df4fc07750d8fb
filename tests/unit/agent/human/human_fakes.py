"""Test doubles for the human-in-the-loop unit tests: the hub boundary of the relay (our own
modules always run for real), a deadline-bound wait, and what the relay is doing."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

from orchestratia.agent.human.hub_api import HelpRefused


class FakeHub:
    """The hub calls the relay makes, with knobs for outages, refusals and lost responses. Like
    the real hub, a repeated ``request_id`` finds the intervention it made."""

    def __init__(self) -> None:
        self.interventions: dict[str, dict[str, Any]] = {}
        self.help_attempts = 0  # every help call, those that failed (hub down) too
        self.help_calls: list[tuple[str, str, str | None]] = []
        self.request_ids: list[str | None] = []  # of every help call that reached the hub
        self.withdraw_calls: list[str] = []
        self.get_calls = 0
        self.down = False
        self.refuse: str | None = None
        self.lose_help_responses = 0  # store the next N help requests, then fail as if the reply was lost
        self.withdraw_down = False  # only withdraw is unreachable
        self.no_withdraw = False  # a hub without the extension: withdraw answers 404

    async def request_help(
        self, task_id: str, question: str, context: str | None, *, request_id: str | None = None
    ) -> str:
        self.help_attempts += 1
        if self.down:
            raise ConnectionError("hub down")
        if self.refuse:
            raise HelpRefused(self.refuse, 409)
        self.request_ids.append(request_id)
        known = [i for i, v in self.interventions.items() if request_id and v["request_id"] == (task_id, request_id)]
        if known:
            iid = known[0]
        else:
            self.help_calls.append((task_id, question, context))
            iid = str(uuid.uuid4())
            self.interventions[iid] = {"id": iid, "task_id": task_id, "status": "pending", "question": question,
                                       "context": context, "response": None, "request_id": (task_id, request_id)}
        if self.lose_help_responses:
            self.lose_help_responses -= 1
            raise ConnectionError("response lost")
        return iid

    async def withdraw_intervention(self, intervention_id: str) -> dict[str, Any]:
        self.withdraw_calls.append(intervention_id)
        if self.down or self.withdraw_down:
            raise ConnectionError("hub down")
        if self.no_withdraw or intervention_id not in self.interventions:
            raise HelpRefused("not found", 404)
        item = self.interventions[intervention_id]
        if item["status"] not in ("pending", "withdrawn"):
            raise HelpRefused(f"intervention already {item['status']}", 409)
        item["status"] = "withdrawn"
        return dict(item)

    async def get_intervention(self, intervention_id: str) -> dict[str, Any]:
        self.get_calls += 1
        if self.down:
            raise ConnectionError("hub down")
        if intervention_id not in self.interventions:
            raise HelpRefused("not found", 404)
        return dict(self.interventions[intervention_id])

    def answer(self, intervention_id: str, response: str) -> bool:
        item = self.interventions[intervention_id]
        if item["status"] != "pending":
            return False
        item.update(status="answered", response=response)
        return True

    def cancel(self, intervention_id: str) -> None:
        self.interventions[intervention_id]["status"] = "cancelled"

    def only_pending(self) -> str:
        pending = [i for i, v in self.interventions.items() if v["status"] == "pending"]
        assert len(pending) == 1, pending
        return pending[0]


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def askers_waiting(relay: Any) -> int:
    """Asker connections the relay streams a request to: each has sent its ask, joined the request
    (a new one or the one its request id names) and waits for the final line. Read from the
    relay's request table, for askers that cannot tell (the hook, ``ask``: subprocesses)."""
    return sum(len(req.listeners) for req in relay._requests.values())
