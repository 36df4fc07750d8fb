"""Outgoing webhooks: intervention requested / answered / cancelled / withdrawn and task finished.

Configured with ``ORCHESTRATIA_WEBHOOKS``, a JSON list::

    [{"url": "https://hooks.slack.com/services/...", "secret": "s3cret",
      "events": ["intervention.requested", "intervention.answered", "task.finished"]}]

(``events`` defaults to all; ``"*"`` means all). Each delivery is a JSON POST::

    {"event", "delivery_id", "timestamp", "text", "data": {...}}

``text`` is a one-line summary (Slack's incoming webhooks show it as the message), ``data`` the
intervention or task object as the admin API shows it (or the bare event when no describer is
wired). Headers: ``X-Orchestratia-Event``, ``X-Orchestratia-Delivery`` and
``X-Orchestratia-Signature: sha256=<hex HMAC-SHA256 of the raw body with the webhook's
secret>`` — verify it with :func:`verify_signature` before trusting a delivery.

Network errors, 429 and 5xx are retried with exponential backoff and jitter (``max_attempts``
in all); other 4xx are not. The dispatcher subscribes to the bus's ``hub`` channel; with several
hub replicas on Redis, a ``SET NX`` claim per event makes exactly one replica deliver it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from orchestratia.protocol.events import AnyEvent, BudgetEvent, InterventionEvent, TaskEvent

log = logging.getLogger(__name__)

EVENTS = ("intervention.requested", "intervention.answered", "intervention.cancelled", "intervention.withdrawn",
          "task.finished", "budget.reached")
FINAL_TASK_STATUSES = frozenset({"completed", "failed", "cancelled", "timed_out", "lost"})
SIGNATURE_HEADER = "X-Orchestratia-Signature"

#: ``describe(kind, id)`` → the admin view of the intervention / task, or None.
Describer = Callable[[str, str], Awaitable[dict[str, Any] | None]]
#: ``claim(key)`` → True when this process should deliver the event (dedupe across replicas).
Claimer = Callable[[str], Awaitable[bool]]


class WebhookTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    secret: str = Field(min_length=1)
    events: list[str] = Field(default_factory=lambda: ["*"])

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("a webhook url must start with http:// or https://")
        return value

    @field_validator("events")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [e for e in value if e != "*" and e not in EVENTS]
        if unknown:
            raise ValueError(f"unknown webhook event(s) {unknown}; known: {', '.join(EVENTS)} or '*'")
        return value

    def wants(self, event: str) -> bool:
        return "*" in self.events or event in self.events


def load_targets(raw: str | None) -> list[WebhookTarget]:
    """Targets from a JSON list (the setting ``webhooks``, ``ORCHESTRATIA_WEBHOOKS``);
    ValueError when invalid."""
    if not raw or not raw.strip():
        return []
    try:
        return TypeAdapter(list[WebhookTarget]).validate_json(raw)
    except Exception as exc:
        raise ValueError(f"ORCHESTRATIA_WEBHOOKS is not a valid JSON list of {{url, secret, events}}: {exc}") from exc


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """For receivers: constant-time check of ``X-Orchestratia-Signature``."""
    return bool(header) and hmac.compare_digest(sign(secret, body), header or "")


def event_name(event: AnyEvent) -> str | None:
    """The webhook event for a ``hub`` channel event, or None."""
    if isinstance(event, InterventionEvent):
        return {"pending": "intervention.requested", "answered": "intervention.answered",
                "cancelled": "intervention.cancelled", "withdrawn": "intervention.withdrawn"}.get(event.status.value)
    if isinstance(event, TaskEvent) and event.status.value in FINAL_TASK_STATUSES:
        return "task.finished"
    if isinstance(event, BudgetEvent):
        return "budget.reached"
    return None


def _clip(text: Any, limit: int = 300) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_text(event: str, data: dict[str, Any], public_url: str | None = None) -> str:
    """The Slack-compatible one-liner."""
    link = f" {public_url.rstrip('/')}/interventions" if public_url and event.startswith("intervention") else ""
    task = data.get("task_title") or data.get("title") or data.get("task_id") or data.get("id")
    agent = f" on {data['agent']}" if data.get("agent") else ""
    if event == "intervention.requested":
        return f":raising_hand: Task \"{_clip(task, 80)}\"{agent} needs a human: {_clip(data.get('question'))}{link}"
    if event == "intervention.answered":
        who = f" by {data['answered_by']}" if data.get("answered_by") else ""
        return f":white_check_mark: Answered{who} for \"{_clip(task, 80)}\": {_clip(data.get('response'))}"
    if event == "intervention.cancelled":
        return f":no_entry_sign: Question for \"{_clip(task, 80)}\" cancelled (the task ended)"
    if event == "intervention.withdrawn":
        return (f":leftwards_arrow_with_hook: Question for \"{_clip(task, 80)}\"{agent} withdrawn, the agent stopped "
                f"waiting (no answer needed): {_clip(data.get('question'))}")
    if event == "budget.reached":
        where = f" for label {_clip(data['label'], 80)}" if data.get("label") else ""
        return (f":moneybag: Daily budget{where} reached: ${data.get('spent_usd', 0):,.2f} of "
                f"${data.get('daily_usd', 0):,.2f} spent on {data.get('day')}; new tasks wait until tomorrow (UTC)")
    status = data.get("status", "finished")
    icon = {"completed": ":tada:", "failed": ":x:", "timed_out": ":hourglass:", "lost": ":ghost:"}.get(status, ":stop_sign:")
    error = f": {_clip(data.get('error'), 200)}" if data.get("error") else ""
    if public_url and data.get("id"):
        error += f" {public_url.rstrip('/')}/tasks/{data['id']}"
    return f"{icon} Task \"{_clip(task, 80)}\"{agent} {status}{error}"


class WebhookDispatcher:
    def __init__(
        self,
        targets: list[WebhookTarget],
        *,
        describe: Describer | None = None,
        claim: Claimer | None = None,
        public_url: str | None = None,
        max_attempts: int = 6,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        timeout: float = 10.0,
        workers: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.targets = targets
        self.describe = describe
        self.claim = claim
        self.public_url = public_url
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._queue: asyncio.Queue[tuple[WebhookTarget, str, bytes, str]] = asyncio.Queue(10_000)
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False)
        self._tasks: list[asyncio.Task[None]] = []
        self._workers = workers
        self.delivered = 0
        self.failed = 0

    # ---------------------------------------------------------------- lifecycle

    async def start(self, bus: Any) -> None:
        """Subscribe to ``hub`` on ``bus`` (subscribed when this returns) and start workers."""
        if self.claim is None and hasattr(bus, "client") and hasattr(bus, "prefix"):
            self.claim = _redis_claimer(bus)
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self._workers)]
        ready = asyncio.get_running_loop().create_future()
        self._tasks.append(asyncio.create_task(self._listen(bus, ready)))
        await ready

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._client.aclose()

    async def _listen(self, bus: Any, ready: asyncio.Future[None]) -> None:
        try:
            async with bus.subscribe("hub") as sub:
                ready.set_result(None)
                async for message in sub:
                    try:
                        await self.handle(message)
                    except Exception:
                        log.exception("webhook: could not handle %r", message)
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            raise

    # ---------------------------------------------------------------- events

    async def handle(self, hub_event: AnyEvent) -> int:
        """Queue the deliveries for one ``hub`` channel event; returns how many were queued."""
        event = event_name(hub_event)
        message = hub_event.to_dict()
        if event is None:
            return 0
        wanted = [t for t in self.targets if t.wants(event)]
        if not wanted:
            return 0
        claim_key = f"{event}:{message.get('id')}" + (f":{message['day']}" if event == "budget.reached" else "")
        if self.claim is not None and not await self.claim(claim_key):
            return 0
        data: dict[str, Any] | None = None
        if self.describe is not None:
            with contextlib.suppress(Exception):
                data = await self.describe(str(message.get("kind")), str(message.get("id")))
        data = data or {k: v for k, v in message.items() if k != "kind"}
        delivery_id = str(uuid.uuid4())
        body = json.dumps(
            {"event": event, "delivery_id": delivery_id, "timestamp": int(time.time()),
             "text": summary_text(event, data, self.public_url), "data": data},
            ensure_ascii=False, default=str,
        ).encode("utf-8")
        for target in wanted:
            try:
                self._queue.put_nowait((target, event, body, delivery_id))
            except asyncio.QueueFull:
                self.failed += 1
                log.error("webhook queue full: dropping %s for %s", event, target.url)
        return len(wanted)

    async def _worker(self) -> None:
        while True:
            target, event, body, delivery_id = await self._queue.get()
            try:
                ok = await self.deliver(target, event, body, delivery_id)
                if ok:
                    self.delivered += 1
                else:
                    self.failed += 1
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every queued delivery succeeded or gave up (tests, shutdown)."""
        await self._queue.join()

    async def deliver(self, target: WebhookTarget, event: str, body: bytes, delivery_id: str) -> bool:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "orchestratia-webhooks",
            "X-Orchestratia-Event": event,
            "X-Orchestratia-Delivery": delivery_id,
            SIGNATURE_HEADER: sign(target.secret, body),
        }
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = await self._client.post(target.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    return True
                problem = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    log.error("webhook %s to %s refused (%s); not retrying", event, target.url, problem)
                    return False
            if attempt == self.max_attempts:
                break
            delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)
            log.warning("webhook %s to %s failed (%s); retry %d in %.1f s", event, target.url, problem, attempt, delay)
            await asyncio.sleep(delay)
        log.error("webhook %s to %s failed after %d attempts", event, target.url, self.max_attempts)
        return False


def _redis_claimer(bus: Any, ttl_s: int = 24 * 3600) -> Claimer:
    async def claim(key: str) -> bool:
        try:
            return bool(await bus.client.set(f"{bus.prefix}webhook:{key}", "1", nx=True, ex=ttl_s))
        except Exception:
            log.exception("webhook: Redis claim failed; delivering anyway")
            return True

    return claim
