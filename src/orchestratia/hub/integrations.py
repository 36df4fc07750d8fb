"""Optional services started with the hub: outgoing webhooks (``ORCHESTRATIA_WEBHOOKS``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from orchestratia.protocol.shared import is_uuid
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.store.models import Intervention, Task
from orchestratia.hub.store.queries import agent_names
from orchestratia.hub.views import intervention_view, task_view


def make_describer(hub: Runtime) -> Any:
    """``describe(kind, id)`` → the admin API view of a task or intervention, or None."""

    async def describe(kind: str, item_id: str) -> dict[str, Any] | None:
        if not is_uuid(item_id):
            return None
        async with hub.store.read() as session:
            if kind == "task":
                task = await session.get(Task, item_id)
                if task is None:
                    return None
                names = await agent_names(session, [task.agent_id])
                return task_view(task, names.get(task.agent_id or ""))
            if kind == "intervention":
                row = (
                    await session.execute(
                        select(Intervention, Task).join(Task, Task.id == Intervention.task_id).where(Intervention.id == item_id)
                    )
                ).first()
                if row is None:
                    return None
                names = await agent_names(session, [row[1].agent_id])
                return intervention_view(row[0], row[1], names.get(row[1].agent_id or ""))
        return None

    return describe


async def start_webhooks(hub: Runtime) -> Any:
    """A running ``WebhookDispatcher`` when webhooks are configured, else None.

    An invalid ``ORCHESTRATIA_WEBHOOKS`` stops the hub at start with the reason."""
    from orchestratia.hub.webhooks import WebhookDispatcher, load_targets

    raw = hub.settings.webhooks.get_secret_value() if hub.settings.webhooks is not None else None
    targets = load_targets(raw)
    if not targets:
        return None
    dispatcher = WebhookDispatcher(targets, describe=make_describer(hub), public_url=hub.settings.public_url)
    await dispatcher.start(hub.bus)
    return dispatcher
