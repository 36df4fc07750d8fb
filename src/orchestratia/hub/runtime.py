"""The running parts of one hub process, in one plain container (no logic of its own).

Built by :func:`orchestratia.hub.lifecycle.running` in the app's lifespan, never at import
time, and kept on ``app.state.hub``; routes get it with ``api.deps.get_hub``. Each part does one
thing and is reached by its name: ``hub.store.write()`` (a write transaction whose events go out
after the commit), ``hub.liveness.touch(agent)``, ``hub.scheduler.kick(agent_id)``...
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from orchestratia.hub.auth import LoginLimiter
    from orchestratia.hub.events.bus import EventBus
    from orchestratia.hub.gc_pacer import GcPacer
    from orchestratia.hub.liveness import Liveness
    from orchestratia.hub.metrics import HubMetrics
    from orchestratia.hub.output_writer import OutputWriter
    from orchestratia.hub.scheduler.assigned_index import AssignedIndex
    from orchestratia.hub.scheduler.loop import Scheduler
    from orchestratia.hub.settings import HubSettings
    from orchestratia.hub.store.engine import Database
    from orchestratia.hub.store.transactions import Store


class AgentLink(Protocol):
    """An agent's live WebSocket connection (``api.agent.ws.AgentConnection``)."""

    async def close(self, code: int, reason: str) -> None: ...


@dataclass
class Runtime:
    settings: HubSettings
    #: the raw store (sessions without events); routes use :attr:`store`
    db: Database
    bus: EventBus
    #: read transactions, and write transactions that publish their events after the commit
    store: Store
    limiter: LoginLimiter
    #: contacts (write-behind), ONLINE/OFFLINE, ``lost`` checks, the API key cache
    liveness: Liveness
    #: agents that may have an assigned task (a poll from another answers [] at once)
    assigned: AssignedIndex
    scheduler: Scheduler
    #: this hub's Prometheus registry and collectors (GET /metrics)
    metrics: HubMetrics
    #: stores the output of every agent's WebSocket, a batch per transaction
    output: OutputWriter
    #: set when the server is asked to stop: long-lived streams end
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    #: agent id → its live WebSocket connection in this process
    connections: dict[str, AgentLink] = field(default_factory=dict)
    #: the outgoing webhook dispatcher, when webhooks are configured
    webhooks: Any = None
    gc_pacer: GcPacer | None = None
