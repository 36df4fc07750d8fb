"""Admin API: agents (list, show by id or name, revoke)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response
from sqlalchemy import or_, select

from orchestratia.protocol import AgentStatus, TaskStatus, WsRevoked
from orchestratia.protocol.events import AgentEvent
from orchestratia.hub.api.deps import get_hub
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.states import emit, push, transition
from orchestratia.hub.store.models import Agent, Task, utcnow
from orchestratia.hub.store.queries import find_agent, running_task_ids
from orchestratia.hub.views import agent_view


def add_routes(api: APIRouter) -> None:
    api.add_api_route("/agents", list_agents, methods=["GET"])
    api.add_api_route("/agents/{id_or_name}", get_agent, methods=["GET"])
    api.add_api_route("/agents/{agent_id}/revoke", revoke_agent, methods=["POST"])
    api.add_api_route("/agents/{agent_id}", delete_agent, methods=["DELETE"], status_code=204)


async def list_agents(hub: Runtime = Depends(get_hub)) -> list[dict[str, Any]]:
    await hub.liveness.flush_contacts()  # last contact and heartbeat data as of now
    async with hub.store.read() as session:
        agents = (await session.execute(select(Agent).order_by(Agent.name))).scalars().all()
        running = await running_task_ids(session, [a.id for a in agents])
    offline_after = hub.settings.offline_after_s
    return [agent_view(a, offline_after, running[a.id]) for a in agents]


async def get_agent(id_or_name: str, hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    await hub.liveness.flush_contacts()
    async with hub.store.read() as session:
        agent = await find_agent(session, id_or_name)
        if agent is None:
            raise HTTPException(404, detail=f"agent {id_or_name!r} not found")
        running = await running_task_ids(session, [agent.id])
    return agent_view(agent, hub.settings.offline_after_s, running[agent.id])


async def revoke_agent(agent_id: str, hub: Runtime = Depends(get_hub)) -> dict[str, Any]:
    """Revoke the agent's key at once; its not-yet-started tasks go back to ``queued``, for any
    agent: also those created for it that still wait (for a parent, a group's room, a budget),
    which would otherwise be handed to it once released."""
    async with hub.store.write() as session:
        agent = await find_agent(session, agent_id)
        if agent is None:
            raise HTTPException(404, detail=f"agent {agent_id!r} not found")
        if agent.revoked_at is None:
            agent.revoked_at = utcnow()
            mine = or_(Task.agent_id == agent.id, Task.requested_agent_id == agent.id)
            waiting = (TaskStatus.ASSIGNED.value, TaskStatus.QUEUED.value)
            for task in (await session.execute(select(Task).where(mine, Task.status.in_(waiting)))).scalars():
                task.requested_agent_id = None  # created for it: now any agent may take it (and its reruns)
                if task.status == TaskStatus.ASSIGNED.value:
                    await transition(session, task, TaskStatus.QUEUED)
                else:
                    task.agent_id = None
            emit(session, AgentEvent(id=agent.id, status=AgentStatus.REVOKED))
            push(session, agent.id, WsRevoked())
        await session.flush()
        running = await running_task_ids(session, [agent.id])
    hub.liveness.forget(agent.id)
    return agent_view(agent, hub.settings.offline_after_s, running[agent.id])


async def delete_agent(agent_id: str, hub: Runtime = Depends(get_hub)) -> Response:
    """Remove a revoked agent, or an offline one with no task assigned or running (else 409:
    deleting a working daemon or one that holds tasks would cut them off without a word). Its
    past tasks stay, with no agent (the foreign key sets it null); its key stops working here at
    once and on other replicas at their next liveness check."""
    from sqlalchemy import func

    from orchestratia.hub.views import agent_status
    from orchestratia.protocol import AgentStatus

    await hub.liveness.flush_contacts()  # "online" as of now
    async with hub.store.write() as session:
        agent = await find_agent(session, agent_id)
        if agent is None:
            raise HTTPException(404, detail=f"agent {agent_id!r} not found")
        if agent_status(agent, hub.settings.offline_after_s) is AgentStatus.ONLINE:
            raise HTTPException(409, detail=f"agent {agent.name!r} is online: stop its daemon or revoke it first, then delete it")
        busy = (await session.execute(select(func.count()).select_from(Task).where(
            Task.agent_id == agent.id, Task.status.in_((TaskStatus.ASSIGNED.value, TaskStatus.RUNNING.value))))).scalar_one()
        if busy:
            raise HTTPException(409, detail=f"agent {agent.name!r} has {busy} task(s) assigned or running: "
                                            "cancel them or wait until they end, then delete it")
        if agent.revoked_at is None:
            push(session, agent.id, WsRevoked())  # closes a WebSocket it may still hold
        await session.delete(agent)
    hub.liveness.forget(agent.id)
    return Response(status_code=204)
