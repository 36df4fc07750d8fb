"""Start and stop the running hub: build its parts into a :class:`Runtime`, bring them up in
order (redaction, store modes → migrations → writability check → assigned index → admin bootstrap → scheduler → GC → webhooks) and take
them down in reverse, writing the contacts still in memory before the store closes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from orchestratia.hub.api.access_log import quiet_liveness
from orchestratia.hub.auth import LoginLimiter
from orchestratia.hub.bootstrap import bootstrap_admin
from orchestratia.hub.events.bus import EventBus
from orchestratia.hub.events.in_process import InProcessBus
from orchestratia.hub.gc_pacer import GcPacer, tune_gc
from orchestratia.hub.integrations import start_webhooks
from orchestratia.hub.liveness import Liveness
from orchestratia.hub.metrics import HubMetrics
from orchestratia.hub.output_writer import OutputWriter
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.scheduler.assigned_feed import AssignedFeed
from orchestratia.hub.scheduler.assigned_index import AssignedIndex
from orchestratia.hub.scheduler.loop import Kicks, Scheduler
from orchestratia.hub.settings import HubSettings
from orchestratia.hub.shutdown import chain_exit_signals
from orchestratia.hub.store.guard import secure_store
from orchestratia.hub.store.engine import Database
from orchestratia.hub.store.migrate import upgrade
from orchestratia.hub.store.transactions import Store
from orchestratia.hub.store.probe import require_writable
from orchestratia.protocol.json_logs import use_json_logs
from orchestratia.protocol.redact import install_redaction


def make_bus(redis_url: str | None) -> EventBus:
    if not redis_url:
        return InProcessBus()
    # imported only when configured: a hub on SQLite never loads redis (nor needs its
    # dependencies: on a Python before 3.11.3 redis.asyncio wants async_timeout)
    from orchestratia.hub.events.redis_bus import RedisBus

    return RedisBus(redis_url)


def _is_redis_bus(bus: EventBus) -> bool:
    from orchestratia.hub.events.redis_bus import RedisBus

    return isinstance(bus, RedisBus)


def build(settings: HubSettings, bus: EventBus | None = None) -> Runtime:
    """The hub's parts, wired, nothing started. ``bus`` overrides the one ``redis_url`` picks."""
    db = Database(settings.effective_database_url(), settings.database_schema)
    bus = bus or make_bus(settings.redis_url)
    assigned = AssignedIndex()
    kicks = Kicks()
    metrics = HubMetrics()  # per hub: two apps in one process never share a counter
    store = Store(db, bus, assigned.note_events, kicks.kick, metrics)
    liveness = Liveness(settings, store, kicks.kick)
    return Runtime(
        settings=settings,
        db=db,
        bus=bus,
        store=store,
        limiter=LoginLimiter(settings.login_failures_per_minute),
        liveness=liveness,
        assigned=assigned,
        scheduler=Scheduler(settings, store, liveness, assigned, kicks),
        metrics=metrics,
        output=OutputWriter(store),
    )


async def start_assigned_index(hub: Runtime) -> None:
    """Trust the assigned-task index where this process sees every assignment (SQLite), or
    hears of the other replicas' through Redis (``assigned_feed.py``); else every poll reads."""
    if hub.db.is_sqlite:
        async with hub.store.read() as session:
            await hub.assigned.load(session)
    elif hub.settings.redis_url and _is_redis_bus(hub.bus):
        feed = AssignedFeed(
            hub.assigned, hub.store, hub.settings.redis_url, hub.bus.prefix, reconcile_s=hub.settings.check_interval_s
        )
        hub.assigned.feed = feed
        feed.start()


@contextlib.asynccontextmanager
async def running(settings: HubSettings, bus: EventBus | None = None) -> AsyncIterator[Runtime]:
    """The hub, running for the ``async with`` block (the app's lifespan)."""
    hub = build(settings, bus)
    unchain = chain_exit_signals(hub.stopping)
    try:
        install_redaction()  # again: the server (uvicorn) configured its handlers since
        if settings.log_format == "json":
            use_json_logs()  # likewise
        secure_store(settings.effective_database_url(), settings.data_dir)  # SQLite: 0700/0600
        await upgrade(hub.db)
        await require_writable(hub.db)  # a read-only store fails here, naming the cause
        await start_assigned_index(hub)
        await bootstrap_admin(hub)
        await hub.scheduler.start()
        hub.output.start()
        if settings.gc_pacing:
            hub.gc_pacer = GcPacer()
            hub.gc_pacer.start()
        else:
            tune_gc()
        quiet_liveness(not settings.log_liveness)
        hub.webhooks = await start_webhooks(hub)
        yield hub
    finally:
        unchain()
        await stop(hub)


async def stop(hub: Runtime) -> None:
    """Everything :func:`running` started, in reverse; the contacts in memory are written
    before the scheduler stops and the store closes."""
    if hub.webhooks is not None:
        await hub.webhooks.close()
    if hub.gc_pacer is not None:
        await hub.gc_pacer.stop()
    hub.stopping.set()
    await hub.output.stop()  # what is queued is stored; output that comes later is stored at once
    await hub.liveness.stop()
    await hub.scheduler.stop()
    await hub.assigned.close()
    await hub.bus.close()
    await hub.db.dispose()
