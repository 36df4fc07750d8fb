"""The help relay: the daemon's Unix-socket server that running tasks ask humans through.

One :class:`HelpRelay` per daemon. The daemon

- ``await relay.start()`` at start-up (it resumes every question persisted before a restart),
- ``env = relay.register_task(task_id)`` before it starts a task, and puts ``env`` into the
  task's environment (task id, a fresh per-task credential, the socket path),
- ``relay.notify_answered(intervention_id, response)`` on an ``intervention_answered`` push,
- ``await relay.task_finished(task_id)`` when a task ends (pending questions are cancelled),
- ``await relay.close()`` on shutdown (state stays on disk for the next start).

Every request is watched by a background coroutine that creates the intervention on the hub
(retrying while the hub is unreachable), then polls it every ``poll_interval`` seconds as the
fallback for pushes. The first outcome wins and is persisted; any number of asker connections
for the same request id share it. See ``wire.py`` for the socket protocol.

In parts: this class holds the tasks' persisted help state (:mod:`.state`) and the requests
(:mod:`.requests`) and settles them; :mod:`.relay_server` serves the socket and
:mod:`.relay_hub` talks to the hub.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections import deque
from pathlib import Path
from typing import Any

from orchestratia.agent.human import sockets
from orchestratia.agent.human import state as st
from orchestratia.agent.human import wire
from orchestratia.agent.human.hub_api import HubHelpAPI
from orchestratia.agent.human.relay_hub import NO_ANSWER, HubWatcher
from orchestratia.agent.human.relay_server import RelayServer
from orchestratia.agent.human.requests import HelpRequest, error_line

__all__ = ["NO_ANSWER", "HelpRelay"]

log = logging.getLogger(__name__)


class HelpRelay:
    def __init__(
        self,
        api: HubHelpAPI,
        state_dir: str | Path,
        *,
        socket_path: str | Path | None = None,
        poll_interval: float = 2.0,
        keepalive_interval: float = 10.0,
        retry_max: float = 15.0,
        withdraw_wait: float = 1.5,
    ) -> None:
        self.api = api
        self.state_dir = Path(state_dir)
        self.socket_path = Path(socket_path) if socket_path else sockets.default_socket_path(self.state_dir)
        self.poll_interval = poll_interval
        self.keepalive_interval = keepalive_interval
        self.retry_max = retry_max
        #: at a timeout, how long the asker's final line waits for the hub's word on the withdraw
        #: (a human's answer that came first wins); under the asker's own 2 s of slack
        self.withdraw_wait = withdraw_wait
        self.hub = HubWatcher(api, self)
        self.server = RelayServer(self, self.socket_path)
        self._tasks: dict[str, dict[str, Any]] = {}  # task id -> persisted state
        self._requests: dict[tuple[str, str], HelpRequest] = {}
        self._by_intervention: dict[str, HelpRequest] = {}
        self._early: dict[str, str] = {}  # answers pushed before request_help returned
        self._ended: deque[str] = deque(maxlen=1000)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for task_id, task_state in st.load_all(self.state_dir).items():
            self._tasks[task_id] = task_state
            for request_id, record in task_state["requests"].items():
                req = self._add_request(task_id, request_id, record)
                if record.get("status") == "pending":
                    req.watcher = asyncio.create_task(self.hub.watch(req))
                else:
                    req.future.set_result(req.final_line())
                    if record.get("withdraw") == "pending":  # timed out; the hub has not heard yet
                        req.withdrawer = asyncio.create_task(self.hub.withdraw(req))
        await self.server.start()
        log.info("help relay listening on %s (%d task(s) resumed)", self.socket_path, len(self._tasks))

    async def close(self) -> None:
        self.server.stop_listening()
        for req in self._requests.values():
            req.broadcast("closing")
        for _ in range(5):  # again for connections accepted just before close() (and, on 3.11,
            # for a cancellation that asyncio.wait_for swallowed)
            pending = [t for r in self._requests.values() for t in r.background()]
            pending += self.server.pending()
            if not pending:
                break
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=1.0)
        await self.server.wait_closed()

    # ------------------------------------------------------------------ daemon API

    def register_task(self, task_id: str, approval_policy: str | None = None) -> dict[str, str]:
        """A fresh credential for the task; returns the environment the task must get."""
        credential = st.new_credential()
        task_state = self._tasks.get(task_id) or {"task_id": task_id, "requests": {}}
        task_state["credential_sha256"] = st.credential_hash(credential)
        task_state["approval_policy"] = approval_policy
        self._tasks[task_id] = task_state
        st.write_state(self.state_dir, task_id, task_state)
        return {
            wire.ENV_TASK_ID: task_id,
            wire.ENV_TASK_CREDENTIAL: credential,
            wire.ENV_SOCKET: str(self.socket_path),
        }

    def pending(self, task_id: str | None = None) -> list[dict[str, Any]]:
        """The questions still waiting (for status displays and tests)."""
        return [
            {"task_id": r.task_id, "request_id": r.request_id, **r.record}
            for r in self._requests.values()
            if not r.future.done() and (task_id is None or r.task_id == task_id)
        ]

    def notify_answered(self, intervention_id: str, response: str | None, task_id: str | None = None) -> bool:
        """Called on an ``intervention_answered`` push. True when a waiting request took it."""
        req = self._by_intervention.get(intervention_id)
        if req is None:
            self._early[intervention_id] = response or ""
            return False
        return self.finish(req, "answered", response=response or "")

    async def task_finished(self, task_id: str, reason: str = "the task has ended") -> None:
        """Cancel the task's pending questions and forget its credential and state."""
        reqs = [r for r in self._requests.values() if r.task_id == task_id]
        for req in reqs:
            self.finish(req, "cancelled", reason=reason, persist=False)
            for task in req.background():  # the hub cancels the task's questions itself
                task.cancel()
        for req in reqs:
            del self._requests[(task_id, req.request_id)]
            if req.record.get("intervention_id"):
                self._by_intervention.pop(req.record["intervention_id"], None)
        self._tasks.pop(task_id, None)
        self._ended.append(task_id)
        st.remove_state(self.state_dir, task_id)
        await asyncio.sleep(0)  # let connections flush their final line

    # ------------------------------------------------------------------ requests

    def _add_request(self, task_id: str, request_id: str, record: dict[str, Any]) -> HelpRequest:
        req = HelpRequest(task_id, request_id, record, asyncio.get_running_loop().create_future())
        self._requests[(task_id, request_id)] = req
        if record.get("intervention_id"):
            self._by_intervention[record["intervention_id"]] = req
        return req

    def persist(self, task_id: str) -> None:
        task_state = self._tasks.get(task_id)
        if task_state is not None:
            st.write_state(self.state_dir, task_id, task_state)

    def created(self, req: HelpRequest, intervention_id: str) -> str | None:
        """The hub made ``intervention_id`` for ``req``: recorded, askers told. The answer when
        its push came first."""
        req.record["intervention_id"] = intervention_id
        self._by_intervention[intervention_id] = req
        self.persist(req.task_id)
        req.broadcast("accepted")
        return self._early.pop(intervention_id, None)

    def finish(self, req: HelpRequest, status: str, *, persist: bool = True, **fields: Any) -> bool:
        """Settle the request once; the first outcome wins."""
        if req.future.done():
            return False
        req.record["status"] = status
        if "response" in fields:
            req.record["response"] = fields["response"]
        if "reason" in fields or "detail" in fields:
            req.record["reason"] = fields.get("reason", fields.get("detail"))
        if "code" in fields:
            req.record["code"] = fields["code"]
        if persist:
            self.persist(req.task_id)
        req.future.set_result(req.final_line())
        req.broadcast("final")
        log.info("help request %s of task %s: %s", req.request_id, req.task_id, status)
        return True

    def admit(self, message: dict[str, Any]) -> HelpRequest | dict[str, Any]:
        """The request for this message (existing or new), or an error / final line."""
        if message.get("op") != "ask":
            return error_line("bad_request", "unknown op; expected 'ask' or 'ping'")
        task_id, credential = message.get("task_id"), message.get("credential")
        request_id = message.get("request_id")
        if not isinstance(task_id, str) or not isinstance(credential, str):
            return error_line("unauthorized", "task_id and credential are required")
        task_state = self._tasks.get(task_id)
        if task_state is None or not hmac.compare_digest(
            st.credential_hash(credential), task_state["credential_sha256"]
        ):
            if task_state is None and task_id in self._ended:
                return {"type": "cancelled", "request_id": request_id, "reason": "the task has ended"}
            return error_line("unauthorized", "unknown task or wrong credential (is this running inside a task?)")
        if not isinstance(request_id, str) or not 1 <= len(request_id) <= 200:
            return error_line("bad_request", "request_id must be a string of 1 to 200 characters")
        existing = self._requests.get((task_id, request_id))
        if existing is not None:
            return existing
        record = st.new_record(message)
        if isinstance(record, str):
            return error_line("bad_request", record)
        task_state["requests"][request_id] = record
        self.persist(task_id)
        req = self._add_request(task_id, request_id, record)
        req.watcher = asyncio.create_task(self.hub.watch(req))
        return req
