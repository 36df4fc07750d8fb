"""FastAPI dependencies shared by the routes: the hub, the calling agent."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request

from orchestratia.hub.auth import hash_secret
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.store.models import Agent
from orchestratia.hub.store.queries import agent_by_key_hash


async def get_hub(request: Request) -> Runtime:
    """The running hub, ``app.state.hub`` (async: FastAPI runs a plain ``def`` dependency in a
    worker thread, a thread hop on every request)."""
    return request.app.state.hub


async def agent_for_key(hub: Runtime, api_key: str | None) -> tuple[Agent | None, str]:
    """The live agent for ``api_key``, or (None, why not)."""
    if not api_key:
        return None, "missing X-API-Key header"
    key_hash = hash_secret(api_key)
    agent = hub.liveness.keys.get(key_hash)
    if agent is not None:
        return agent, ""
    epoch = hub.liveness.keys.epoch
    async with hub.store.read() as session:
        agent = await agent_by_key_hash(session, key_hash)
    if agent is None:
        return None, "unknown API key"
    if agent.revoked_at is not None:
        return None, "API key revoked"
    hub.liveness.keys.put(key_hash, agent, epoch)
    return agent, ""


async def current_agent(request: Request, hub: Runtime = Depends(get_hub)) -> Agent:
    """The agent calling (``X-API-Key``); any authenticated request counts as contact."""
    agent, why = await agent_for_key(hub, request.headers.get("x-api-key"))
    if agent is None:
        raise HTTPException(401, detail=why)
    await hub.liveness.touch(agent)
    return agent
