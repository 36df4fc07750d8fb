"""Prometheus metrics of one hub process: ``GET /metrics`` in the text format (prometheus-client).

Every hub (every app) owns a :class:`HubMetrics` with its own ``CollectorRegistry``, built with
its :class:`~orchestratia.hub.runtime.Runtime` (the library's import-time global registry is never
used), so two hubs in one process never share a counter.

Replicas: no label of ours. Each replica is its own scrape target, and Prometheus adds its
``instance`` label. Counters, histograms and the WebSocket gauge are this process's own; the
store gauges (agents, tasks, queue) read the shared store, so every replica reports the same
values: aggregate them with ``max``, the rest with ``sum``.

Where the numbers come from:

* the store gauges: three grouped counts at scrape time (:class:`StoreCounts`), kept for
  :data:`STORE_COUNTS_TTL_S` so a burst of scrapes reads the store once;
* durations and output bytes: noted on the write session by ``states.transition`` and
  ``task_output`` (:func:`note_transition`, :func:`note_output`) and counted by
  ``Store.write`` only once the transaction committed (:meth:`HubMetrics.committed`);
* HTTP requests: :class:`HttpMetrics`, labelled by route template (``/api/v1/agents/tasks/{task_id}/start``),
  never the raw path, so the number of series stays bounded;
* WebSocket connections, store and bus errors: read from the runtime at scrape time.

Nothing here carries a secret or task content: labels are statuses, route templates, methods
and HTTP status codes.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, Counter, Histogram, Info, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestratia import __version__
from orchestratia.hub.api.responses import OrjsonResponse
from orchestratia.hub.store.models import Agent, Task, utcnow
from orchestratia.hub.store.writable import store_failure
from orchestratia.protocol import FINAL_STATUSES, AgentStatus, TaskStatus

if TYPE_CHECKING:  # not the Runtime: it leads (through liveness) to states, which imports this
    from orchestratia.hub.settings import HubSettings

log = logging.getLogger(__name__)

#: the store gauges are re-read at most this often (a scrape storm reads the store once)
STORE_COUNTS_TTL_S = 1.5
#: assigned → started: a pushed task starts in milliseconds, a polled one within the poll interval
DISPATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
#: started → final: coding agents run for minutes to hours
RUN_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_NOTES = "metrics"  # key of the notes on a write session's ``info``


# ---------------------------------------------------------------------------- notes on a write


def note_transition(session: AsyncSession, task: Task, target: TaskStatus) -> None:
    """The durations a status change adds, counted once its transaction commits: assigned →
    started (the dispatch latency) and started → final (the run duration, by final status)."""
    if target == TaskStatus.RUNNING and task.assigned_at and task.started_at:
        _note(session, ("dispatch", "", _seconds(task.assigned_at, task.started_at)))
    elif target in FINAL_STATUSES and task.started_at and task.finished_at:
        _note(session, ("run", target.value, _seconds(task.started_at, task.finished_at)))


def note_output(session: AsyncSession, stored_bytes: int) -> None:
    """Output bytes stored by this transaction (counted once it commits)."""
    _note(session, ("output", "", float(stored_bytes)))


def _note(session: AsyncSession, note: tuple[str, str, float]) -> None:
    session.info.setdefault(_NOTES, []).append(note)


def take_notes(session: AsyncSession) -> list[tuple[str, str, float]]:
    return session.info.pop(_NOTES, [])


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())  # replicas' clocks may differ by a little


# ---------------------------------------------------------------------------- the store gauges


@dataclass
class StoreCounts:
    """Grouped counts from the store, read at scrape time."""

    agents: dict[str, int] = field(default_factory=dict)
    tasks: dict[str, int] = field(default_factory=dict)
    queued: int = 0
    oldest_queued_age_s: float = 0.0


async def read_store_counts(session: AsyncSession, offline_after_s: float) -> StoreCounts:
    """Three grouped queries (index ``ix_tasks_status_created_at`` serves the task ones)."""
    now = utcnow()
    online = Agent.last_seen_at >= now - timedelta(seconds=offline_after_s)
    status = case((Agent.revoked_at.is_not(None), AgentStatus.REVOKED.value), (online, AgentStatus.ONLINE.value),
                  else_=AgentStatus.OFFLINE.value)
    counts = StoreCounts()
    counts.agents = {row[0]: row[1] for row in await session.execute(select(status, func.count()).group_by(status))}
    rows = await session.execute(select(Task.status, func.count()).group_by(Task.status))
    counts.tasks = {row[0]: row[1] for row in rows}
    queued = (await session.execute(select(func.count(), func.min(Task.created_at))
                                    .where(Task.status == TaskStatus.QUEUED.value))).one()
    counts.queued = queued[0] or 0
    counts.oldest_queued_age_s = _seconds(queued[1], now) if queued[1] is not None else 0.0
    return counts


# ---------------------------------------------------------------------------- the registry


class _ScrapeCollector:
    """What is read at scrape time: the store gauges, WebSocket connections, error counts."""

    def __init__(self) -> None:
        self.counts: StoreCounts | None = None  # None: the store could not be read
        self.websockets = 0
        self.store_errors: dict[str, int] = {}
        self.bus_errors = 0

    def describe(self) -> list[Metric]:
        return []  # read at scrape time: nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        yield from self._store_gauges()
        yield GaugeMetricFamily("orchestratia_websocket_connections",
                                "Agent WebSocket connections open on this replica", value=self.websockets)
        store = CounterMetricFamily("orchestratia_store_errors",
                                    "Store transactions that failed for the store's own reasons", labels=["operation"])
        for operation in ("read", "write"):
            store.add_metric([operation], self.store_errors.get(operation, 0))
        yield store
        yield CounterMetricFamily("orchestratia_bus_errors", "Event bus publishes that failed", value=self.bus_errors)

    def _store_gauges(self) -> Iterator[Metric]:
        counts = self.counts
        if counts is None:
            return  # absent rather than stale (orchestratia_store_errors_total says why)
        agents = GaugeMetricFamily("orchestratia_agents", "Agents by status (store-wide)", labels=["status"])
        for agent_status in AgentStatus:
            agents.add_metric([agent_status.value], counts.agents.get(agent_status.value, 0))
        tasks = GaugeMetricFamily("orchestratia_tasks", "Tasks by status (store-wide)", labels=["status"])
        for task_status in TaskStatus:
            tasks.add_metric([task_status.value], counts.tasks.get(task_status.value, 0))
        yield agents
        yield tasks
        yield GaugeMetricFamily("orchestratia_queue_length", "Queued tasks waiting for an agent (store-wide)",
                                value=counts.queued)
        yield GaugeMetricFamily("orchestratia_queue_oldest_age_seconds",
                                "Age of the oldest queued task, 0 when none (store-wide)",
                                value=counts.oldest_queued_age_s)


class HubMetrics:
    """The metrics of one hub: its own registry, its collectors, and the scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.dispatch = Histogram("orchestratia_dispatch_latency_seconds",
                                  "Task assigned to the agent's start (push or poll), by the replica that took the start",
                                  buckets=DISPATCH_BUCKETS, registry=r)
        self.run = Histogram("orchestratia_task_run_duration_seconds", "Task started to final, by final status",
                             ["status"], buckets=RUN_BUCKETS, registry=r)
        self.output_bytes = Counter("orchestratia_output_bytes", "Task output bytes stored", registry=r)
        self.http = Counter("orchestratia_http_requests", "HTTP requests by route template, method and status",
                            ["route", "method", "status"], registry=r)
        Info("orchestratia_hub", "This hub's version", registry=r).info({"version": __version__})
        self._scrape = _ScrapeCollector()
        r.register(self._scrape)
        self._counts_at = 0.0
        self._counts_lock = asyncio.Lock()

    def committed(self, notes: list[tuple[str, str, float]]) -> None:
        """Count what a committed write transaction noted (:func:`note_transition`, :func:`note_output`)."""
        for kind, label, value in notes:
            if kind == "dispatch":
                self.dispatch.observe(value)
            elif kind == "run":
                self.run.labels(label).observe(value)
            elif kind == "output":
                self.output_bytes.inc(value)

    def http_request(self, scope: Scope, status: int) -> None:
        method = scope.get("method", "")
        self.http.labels(route_template(scope), method if method in METHODS else "other", str(status)).inc()

    async def render(self, hub: Any) -> bytes:
        """The text exposition of ``hub`` (the Runtime), the store gauges refreshed when older
        than the TTL."""
        await self._refresh_counts(hub)
        scrape = self._scrape
        scrape.websockets = len(hub.connections)
        scrape.store_errors = dict(hub.db.failures)
        scrape.bus_errors = hub.bus.errors
        return generate_latest(self.registry)

    async def _refresh_counts(self, hub: Any) -> None:
        async with self._counts_lock:  # concurrent scrapes wait for one read, then share it
            if time.monotonic() - self._counts_at < STORE_COUNTS_TTL_S:
                return
            try:
                await hub.liveness.flush_contacts()  # ONLINE as the admin agent list shows it
                async with hub.store.read() as session:
                    self._scrape.counts = await read_store_counts(session, hub.settings.offline_after_s)
            except Exception as exc:  # noqa: BLE001 - a scrape must answer, store or not
                log.warning("metrics: the store could not be read: %s", store_failure(exc) or type(exc).__name__)
                self._scrape.counts = None
            self._counts_at = time.monotonic()


# ---------------------------------------------------------------------------- HTTP


def route_template(scope: Scope) -> str:
    """The matched route's template (``/api/admin/tasks/{task_id}``), or "unmatched".

    Built from the path and the matched path parameters (each value's segments, the rightmost
    occurrence, become ``{name}``) rather than from the route object, whose ``path`` lacks the
    router prefix in recent FastAPI versions. A value that cannot be placed makes the label
    "unmatched": a raw path never becomes a label."""
    if "endpoint" not in scope:
        return "unmatched"  # no route matched (a 404, a redirect)
    template = "/" + scope.get("path", "").strip("/")
    for name, value in (scope.get("path_params") or {}).items():
        head, found, tail = template.rpartition("/" + str(value).strip("/"))
        if not found or (tail and not tail.startswith("/")):
            return "unmatched"
        template = f"{head}/{{{name}}}{tail}"
    return template


class HttpMetrics:
    """ASGI middleware: counts each HTTP request by its route template, method and status.
    Installed inside the body-limit middleware, which may hand on a copy of the scope: the
    router writes ``scope["route"]`` into the one this middleware holds."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            status = 503 if store_failure(exc) else 500  # what the error handlers will answer
            raise
        finally:
            hub = getattr(scope["app"].state, "hub", None)
            if hub is not None:
                hub.metrics.http_request(scope, status)


# ---------------------------------------------------------------------------- the route


async def metrics_endpoint(request: Request) -> Any:
    settings: HubSettings = request.app.state.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if token and not _bearer_matches(request.headers.get("authorization", ""), token):
        return OrjsonResponse({"detail": "GET /metrics needs the header 'Authorization: Bearer <ORCHESTRATIA_METRICS_TOKEN>'"},
                              status_code=401, headers={"WWW-Authenticate": "Bearer"})
    hub = getattr(request.app.state, "hub", None)
    if hub is None:
        return OrjsonResponse({"detail": "the hub is starting"}, status_code=503)
    return PlainTextResponse(await hub.metrics.render(hub), media_type=CONTENT_TYPE_PLAIN_0_0_4)  # what every Prometheus reads


def _bearer_matches(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def install(app: FastAPI, settings: HubSettings) -> None:
    """``GET /metrics`` (unless ``ORCHESTRATIA_METRICS_ENABLED=false``) and the request counter."""
    app.add_middleware(HttpMetrics)
    if settings.metrics_enabled:
        app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], tags=["hub"], response_class=PlainTextResponse,
                          summary="Prometheus metrics (text format)")
