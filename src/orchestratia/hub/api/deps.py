"""FastAPI dependencies shared by the routes: the hub, the calling agent."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request

from orchestratia.hub.auth import hash_secret
from orchestratia.hub.core import Hub
from orchestratia.hub.store.models import Agent
from orchestratia.hub.store.queries import agent_by_key_hash


async def get_hub(request: Request) -> Hub:
    """The running hub (async: FastAPI runs a plain ``def`` dependency in a worker thread, a
    thread hop on every request)."""
    return request.app.state.hub


async def agent_for_key(hub: Hub, api_key: str | None) -> tuple[Agent | None, str]:
    """The live agent for ``api_key``, or (None, why not)."""
    if not api_key:
        return None, "missing X-API-Key header"
    key_hash = hash_secret(api_key)
    agent = hub.agent_keys.get(key_hash)
    if agent is not None:
        return agent, ""
    epoch = hub.agent_keys.epoch
    async with hub.read() as session:
        agent = await agent_by_key_hash(session, key_hash)
    if agent is None:
        return None, "unknown API key"
    if agent.revoked_at is not None:
        return None, "API key revoked"
    hub.agent_keys.put(key_hash, agent, epoch)
    return agent, ""


async def current_agent(request: Request, hub: Hub = Depends(get_hub)) -> Agent:
    """The agent calling (``X-API-Key``); any authenticated request counts as contact."""
    agent, why = await agent_for_key(hub, request.headers.get("x-api-key"))
    if agent is None:
        raise HTTPException(401, detail=why)
    await hub.touch(agent)
    return agent
