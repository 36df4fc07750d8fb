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
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestratia.agent.human import sockets
from orchestratia.agent.human import state as st
from orchestratia.agent.human import wire
from orchestratia.agent.human.approval import format_approval_request
from orchestratia.agent.human.hub_api import HelpRefused, HubHelpAPI

log = logging.getLogger(__name__)

NO_ANSWER = "no answer from a human in time"


@dataclass
class _Request:
    task_id: str
    request_id: str
    record: dict[str, Any]
    future: asyncio.Future[dict[str, Any]]
    listeners: list[asyncio.Queue[str]] = field(default_factory=list)
    watcher: asyncio.Task[None] | None = None
    withdrawer: asyncio.Task[Any] | None = None  # a withdraw still being retried after a timeout

    def background(self) -> list[asyncio.Task[Any]]:
        return [t for t in (self.watcher, self.withdrawer) if t is not None and not t.done()]

    def broadcast(self, item: str) -> None:
        for queue in self.listeners:
            queue.put_nowait(item)


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
        self._tasks: dict[str, dict[str, Any]] = {}  # task id -> persisted state
        self._requests: dict[tuple[str, str], _Request] = {}
        self._by_intervention: dict[str, _Request] = {}
        self._early: dict[str, str] = {}  # answers pushed before request_help returned
        self._ended: deque[str] = deque(maxlen=1000)
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._closing = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for task_id, task_state in st.load_all(self.state_dir).items():
            self._tasks[task_id] = task_state
            for request_id, record in task_state["requests"].items():
                req = self._add_request(task_id, request_id, record)
                if record.get("status") == "pending":
                    req.watcher = asyncio.create_task(self._watch(req))
                else:
                    req.future.set_result(self._final_from_record(req))
                    if record.get("withdraw") == "pending":  # timed out; the hub has not heard yet
                        req.withdrawer = asyncio.create_task(self._withdraw(req))
        sock = sockets.bind_private(self.socket_path)
        self._server = await asyncio.start_unix_server(
            self._on_connection, sock=sock, limit=wire.MAX_LINE_BYTES
        )
        log.info("help relay listening on %s (%d task(s) resumed)", self.socket_path, len(self._tasks))

    async def close(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
        for req in self._requests.values():
            req.broadcast("closing")
        for _ in range(5):  # again for connections accepted just before close() (and, on 3.11,
            # for a cancellation that asyncio.wait_for swallowed)
            pending = [t for r in self._requests.values() for t in r.background()]
            pending += [t for t in self._connections if not t.done()]
            if not pending:
                break
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=1.0)
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5.0)
            self._server = None

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

    def has_task(self, task_id: str) -> bool:
        return task_id in self._tasks

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
        return self._finish(req, "answered", response=response or "")

    def notify_cancelled(self, intervention_id: str, reason: str = "the question was cancelled") -> bool:
        req = self._by_intervention.get(intervention_id)
        return req is not None and self._finish(req, "cancelled", reason=reason)

    async def task_finished(self, task_id: str, reason: str = "the task has ended") -> None:
        """Cancel the task's pending questions and forget its credential and state."""
        reqs = [r for r in self._requests.values() if r.task_id == task_id]
        for req in reqs:
            self._finish(req, "cancelled", reason=reason, persist=False)
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

    def _add_request(self, task_id: str, request_id: str, record: dict[str, Any]) -> _Request:
        req = _Request(task_id, request_id, record, asyncio.get_running_loop().create_future())
        self._requests[(task_id, request_id)] = req
        if record.get("intervention_id"):
            self._by_intervention[record["intervention_id"]] = req
        return req

    def _persist(self, task_id: str) -> None:
        task_state = self._tasks.get(task_id)
        if task_state is not None:
            st.write_state(self.state_dir, task_id, task_state)

    @staticmethod
    def _final_from_record(req: _Request) -> dict[str, Any]:
        rec = req.record
        final: dict[str, Any] = {"type": rec["status"], "request_id": req.request_id}
        if rec["status"] == "answered":
            final.update(intervention_id=rec.get("intervention_id"), response=rec.get("response") or "")
        elif rec["status"] == "error":
            final.update(code=rec.get("code", "internal"), detail=rec.get("reason") or "")
        else:
            final["reason"] = rec.get("reason") or ""
        return final

    def _finish(self, req: _Request, status: str, *, persist: bool = True, **fields: Any) -> bool:
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
            self._persist(req.task_id)
        req.future.set_result(self._final_from_record(req))
        req.broadcast("final")
        log.info("help request %s of task %s: %s", req.request_id, req.task_id, status)
        return True

    async def _watch(self, req: _Request) -> None:
        deadline = req.record.get("deadline")
        try:
            if deadline is None:
                await self._create_and_poll(req)
            else:
                await asyncio.wait_for(self._create_and_poll(req), max(0.0, deadline - time.time()))
        except asyncio.TimeoutError:
            await self._give_up(req)
        except HelpRefused as exc:
            self._finish(req, "error", code="refused", detail=f"the hub refused the question: {exc.detail}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not leave the asker hanging
            log.exception("help request %s failed", req.request_id)
            self._finish(req, "error", code="internal", detail=f"relay error: {exc}")

    async def _create_and_poll(self, req: _Request) -> None:
        rec = req.record
        if not rec.get("intervention_id"):
            intervention_id = await self._retry(lambda: self._create(req))
            rec["intervention_id"] = intervention_id
            self._by_intervention[intervention_id] = req
            self._persist(req.task_id)
            req.broadcast("accepted")
            if intervention_id in self._early:
                self._finish(req, "answered", response=self._early.pop(intervention_id))
                return
        await self._poll(req, rec["intervention_id"])

    async def _create(self, req: _Request) -> str:
        rec = req.record
        if not rec.get("hub_request_id"):  # a state file from before request ids: persist one first
            rec["hub_request_id"] = st.new_hub_request_id()
            self._persist(req.task_id)
        request_id = rec["hub_request_id"]  # the same on every retry: the hub makes one intervention
        if rec["kind"] == wire.KIND_APPROVAL:
            tool_name = rec.get("tool_name") or ""
            question, context = format_approval_request(tool_name, rec.get("tool_input"), rec)
            request_approval = getattr(self.api, "request_approval", None)
            if request_approval is not None:  # optional: a hub API that knows approvals
                return await request_approval(
                    req.task_id, question, context, tool_name, rec.get("tool_input"), request_id=request_id
                )
        else:
            question, context = rec["question"], rec.get("context") or None
        return await self.api.request_help(req.task_id, question, context, request_id=request_id)

    async def _retry(self, call: Any) -> Any:
        delay = 0.5
        while True:
            try:
                return await call()
            except (HelpRefused, asyncio.CancelledError):
                raise
            except Exception as exc:
                log.warning("hub unreachable for a help request (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)

    async def _poll(self, req: _Request, intervention_id: str) -> None:
        delay = self.poll_interval
        while not req.future.done():
            try:
                data = await self.api.get_intervention(intervention_id)
            except HelpRefused as exc:
                self._finish(req, "cancelled", reason=f"the question is gone on the hub: {exc.detail}")
                return
            except Exception as exc:
                log.debug("polling intervention %s failed: %s", intervention_id, exc)
                delay = min(delay * 2, self.retry_max)
            else:
                delay = self.poll_interval
                status = data.get("status")
                if status == "answered":
                    self._finish(req, "answered", response=data.get("response") or "")
                elif status == "cancelled":
                    self._finish(req, "cancelled", reason="the question was cancelled on the hub")
                elif status == "withdrawn":  # we withdrew it (timeout) before a restart
                    self._finish(req, "timeout", reason=NO_ANSWER)
            if not req.future.done():
                await asyncio.wait([req.future], timeout=delay)

    # ------------------------------------------------------------------ timeouts

    async def _give_up(self, req: _Request) -> None:
        """The asker's timeout: withdraw the question on the hub, so the human sees that no one
        waits for an answer any more. A human's answer that reached the hub first wins."""
        if not req.record.get("intervention_id") or getattr(self.api, "withdraw_intervention", None) is None:
            self._finish(req, "timeout", reason=NO_ANSWER)
            return
        req.record["withdraw"] = "pending"
        self._persist(req.task_id)
        req.withdrawer = asyncio.create_task(self._withdraw(req))
        done, _ = await asyncio.wait({req.withdrawer}, timeout=self.withdraw_wait)
        closed = req.withdrawer.result() if done else None  # else it goes on in the background
        status = (closed or {}).get("status")
        if status == "answered":
            self._finish(req, "answered", response=closed.get("response") or "")
        elif status == "cancelled":
            self._finish(req, "cancelled", reason="the question was cancelled on the hub")
        else:
            self._finish(req, "timeout", reason=NO_ANSWER)

    async def _withdraw(self, req: _Request) -> dict[str, Any] | None:
        """``withdraw`` on the hub, retried while it is unreachable. The intervention as the hub
        holds it afterwards (``withdrawn``, or ``answered`` / ``cancelled`` when that came
        first), or None when the hub refused (a hub without the extension answers 404)."""
        intervention_id = req.record["intervention_id"]

        async def attempt() -> dict[str, Any] | None:
            try:
                return await self.api.withdraw_intervention(intervention_id)  # type: ignore[attr-defined]
            except HelpRefused as exc:
                if exc.status_code != 409:
                    log.info("the hub refused to withdraw intervention %s: %s", intervention_id, exc.detail)
                    return None
            return await self.api.get_intervention(intervention_id)  # 409: answered or cancelled first

        try:
            closed = await self._retry(attempt)
        except HelpRefused:
            closed = None
        req.record["withdraw"] = "done"
        self._persist(req.task_id)
        return closed

    # ------------------------------------------------------------------ connections

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            if not self._closing:
                await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the asker went away (it reconnects with the same request id) or we close
        except Exception:
            log.exception("help relay connection failed")
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 30.0)
            message = wire.decode(line)
        except (ValueError, asyncio.TimeoutError, asyncio.LimitOverrunError) as exc:
            writer.write(wire.encode({"type": "error", "code": "bad_request", "detail": f"bad request line: {exc}"}))
            await writer.drain()
            return
        if message.get("op") == "ping":
            writer.write(wire.encode({"type": "pong"}))
            await writer.drain()
            return
        req_or_error = self._admit(message)
        if isinstance(req_or_error, dict):
            writer.write(wire.encode(req_or_error))
            await writer.drain()
            return
        await self._stream(req_or_error, writer)

    async def _stream(self, req: _Request, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[str] = asyncio.Queue()
        req.listeners.append(queue)
        started = time.monotonic()
        sent_accepted = False
        try:
            while True:
                if not sent_accepted and req.record.get("intervention_id"):
                    sent_accepted = True
                    writer.write(wire.encode({"type": "accepted", "request_id": req.request_id,
                                              "intervention_id": req.record["intervention_id"]}))
                if req.future.done():
                    writer.write(wire.encode(req.future.result()))
                    await writer.drain()
                    return
                await writer.drain()
                getter = asyncio.ensure_future(queue.get())
                try:
                    done, _ = await asyncio.wait({getter}, timeout=self.keepalive_interval)
                finally:
                    getter.cancel()
                if self._closing:
                    return  # the asker reconnects to the next daemon
                if not done:
                    writer.write(wire.encode({"type": "keepalive", "waited_s": round(time.monotonic() - started, 1)}))
        finally:
            req.listeners.remove(queue)

    def _admit(self, message: dict[str, Any]) -> _Request | dict[str, Any]:
        """The request for this message (existing or new), or an error / final line."""
        if message.get("op") != "ask":
            return _error("bad_request", "unknown op; expected 'ask' or 'ping'")
        task_id, credential = message.get("task_id"), message.get("credential")
        request_id = message.get("request_id")
        if not isinstance(task_id, str) or not isinstance(credential, str):
            return _error("unauthorized", "task_id and credential are required")
        task_state = self._tasks.get(task_id)
        if task_state is None or not hmac.compare_digest(
            st.credential_hash(credential), task_state["credential_sha256"]
        ):
            if task_state is None and task_id in self._ended:
                return {"type": "cancelled", "request_id": request_id, "reason": "the task has ended"}
            return _error("unauthorized", "unknown task or wrong credential (is this running inside a task?)")
        if not isinstance(request_id, str) or not 1 <= len(request_id) <= 200:
            return _error("bad_request", "request_id must be a string of 1 to 200 characters")
        existing = self._requests.get((task_id, request_id))
        if existing is not None:
            return existing
        record = st.new_record(message)
        if isinstance(record, str):
            return _error("bad_request", record)
        task_state["requests"][request_id] = record
        self._persist(task_id)
        req = self._add_request(task_id, request_id, record)
        req.watcher = asyncio.create_task(self._watch(req))
        return req


def _error(code: str, detail: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail}
