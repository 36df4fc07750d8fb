"""The help relay's side of the hub: for each question, create the intervention (retrying while
the hub is unreachable, with the same idempotency key), poll it as the fallback for pushes, and
at the asker's timeout withdraw it, so the human sees that no one waits any more."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from orchestratia.agent.human import state as st
from orchestratia.agent.human import wire
from orchestratia.agent.human.approval import format_approval_request
from orchestratia.agent.human.hub_api import HelpRefused, HubHelpAPI
from orchestratia.agent.human.requests import HelpRequest, RelayBook

log = logging.getLogger("orchestratia.agent.human.relay")  # one logger for the whole relay

NO_ANSWER = "no answer from a human in time"


class HubWatcher:
    """Talks to the hub for the relay's requests; settles them through ``relay.finish`` and reads
    the relay's intervals (``poll_interval``, ``retry_max``, ``withdraw_wait``) as they are now."""

    def __init__(self, api: HubHelpAPI, relay: RelayBook) -> None:
        self.api = api
        self.relay = relay

    async def watch(self, req: HelpRequest) -> None:
        deadline = req.record.get("deadline")
        try:
            if deadline is None:
                await self._create_and_poll(req)
            else:
                await asyncio.wait_for(self._create_and_poll(req), max(0.0, deadline - time.time()))
        except asyncio.TimeoutError:
            await self._give_up(req)
        except HelpRefused as exc:
            self.relay.finish(req, "error", code="refused", detail=f"the hub refused the question: {exc.detail}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not leave the asker hanging
            log.exception("help request %s failed", req.request_id)
            self.relay.finish(req, "error", code="internal", detail=f"relay error: {exc}")

    async def _create_and_poll(self, req: HelpRequest) -> None:
        rec = req.record
        if not rec.get("intervention_id"):
            intervention_id = await self._retry(lambda: self._create(req))
            early = self.relay.created(req, intervention_id)
            if early is not None:  # the answer's push came before the hub's answer to the create
                self.relay.finish(req, "answered", response=early)
                return
        await self._poll(req, rec["intervention_id"])

    async def _create(self, req: HelpRequest) -> str:
        rec = req.record
        if not rec.get("hub_request_id"):  # a state file from before request ids: persist one first
            rec["hub_request_id"] = st.new_hub_request_id()
            self.relay.persist(req.task_id)
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
                delay = min(delay * 2, self.relay.retry_max)

    async def _poll(self, req: HelpRequest, intervention_id: str) -> None:
        delay = self.relay.poll_interval
        while not req.future.done():
            try:
                data = await self.api.get_intervention(intervention_id)
            except HelpRefused as exc:
                self.relay.finish(req, "cancelled", reason=f"the question is gone on the hub: {exc.detail}")
                return
            except Exception as exc:
                log.debug("polling intervention %s failed: %s", intervention_id, exc)
                delay = min(delay * 2, self.relay.retry_max)
            else:
                delay = self.relay.poll_interval
                status = data.get("status")
                if status == "answered":
                    self.relay.finish(req, "answered", response=data.get("response") or "")
                elif status == "cancelled":
                    self.relay.finish(req, "cancelled", reason="the question was cancelled on the hub")
                elif status == "withdrawn":  # we withdrew it (timeout) before a restart
                    self.relay.finish(req, "timeout", reason=NO_ANSWER)
            if not req.future.done():
                await asyncio.wait([req.future], timeout=delay)

    async def _give_up(self, req: HelpRequest) -> None:
        """The asker's timeout: withdraw the question on the hub, so the human sees that no one
        waits for an answer any more. A human's answer that reached the hub first wins."""
        if not req.record.get("intervention_id") or getattr(self.api, "withdraw_intervention", None) is None:
            self.relay.finish(req, "timeout", reason=NO_ANSWER)
            return
        req.record["withdraw"] = "pending"
        self.relay.persist(req.task_id)
        req.withdrawer = asyncio.create_task(self.withdraw(req))
        done, _ = await asyncio.wait({req.withdrawer}, timeout=self.relay.withdraw_wait)
        closed = req.withdrawer.result() if done else None  # else it goes on in the background
        status = (closed or {}).get("status")
        if status == "answered":
            self.relay.finish(req, "answered", response=closed.get("response") or "")
        elif status == "cancelled":
            self.relay.finish(req, "cancelled", reason="the question was cancelled on the hub")
        else:
            self.relay.finish(req, "timeout", reason=NO_ANSWER)

    async def withdraw(self, req: HelpRequest) -> dict[str, Any] | None:
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
        self.relay.persist(req.task_id)
        return closed
