"""Extension ``POST /api/v1/agents/capabilities``: the agent's runners, repos and labels as its
daemon sees them now (on every start and config reload), stored at once.

v1 daemons never call it: what they sent at registration stays the record, as before. The
scheduler is kicked after the commit, so a task that waited for a runner or repo this agent now
has is assigned without waiting for the next periodic pass.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from orchestratia.protocol import API_PREFIX
from orchestratia.protocol.events import AgentEvent
from orchestratia.protocol.wire import CapabilitiesRequest
from orchestratia.hub.api.deps import current_agent, get_hub
from orchestratia.hub.api.responses import OrjsonResponse
from orchestratia.hub.runtime import Runtime
from orchestratia.hub.states import emit, kick
from orchestratia.hub.store.models import Agent
from orchestratia.hub.views import agent_status

#: a repo's name and path, as the agent sends them (a path longer than this is not a path)
REPO_TEXT_MAX = 4096


def router() -> APIRouter:
    api = APIRouter(prefix=API_PREFIX, tags=["agent extensions"], default_response_class=OrjsonResponse)
    api.add_api_route("/capabilities", capabilities, methods=["POST"])
    return api


def _check_repos(repos: dict[str, Any]) -> None:
    """Anything an agent sends is hostile: repos are ``name -> path`` or ``name -> {"path",
    "branch", "workspace"}`` of bounded strings, nothing else."""
    for name, value in repos.items():
        path = value.get("path") if isinstance(value, dict) else value
        fields = [name, path] + ([value.get("branch")] if isinstance(value, dict) and value.get("branch") else [])
        if not all(isinstance(f, str) and 0 < len(f) <= REPO_TEXT_MAX for f in fields):
            raise HTTPException(422, detail=f"invalid request: repos.{name[:100]}: a path (string), "
                                            "or {\"path\", \"branch\"} of strings")
        if isinstance(value, dict) and value.get("workspace") not in (None, "worktree", "in-place"):
            raise HTTPException(422, detail=f"invalid request: repos.{name[:100]}.workspace: 'worktree' or "
                                            "'in-place'")


async def capabilities(
    body: CapabilitiesRequest, agent: Agent = Depends(current_agent), hub: Runtime = Depends(get_hub)
) -> dict[str, Any]:
    _check_repos(body.repos)
    async with hub.store.write() as session:
        row = await session.get(Agent, agent.id, with_for_update=True)
        if row is None:  # deleted between the key check and now
            raise HTTPException(401, detail="agent not found: register again")
        row.runners = list(dict.fromkeys(body.runners))
        row.repos = body.repos
        row.labels = list(dict.fromkeys(body.labels))
        if body.max_concurrent_tasks is not None:
            row.max_concurrent_tasks = body.max_concurrent_tasks
        if body.features is not None:  # e.g. workspace_actions (docs/protocol.md)
            row.features = list(dict.fromkeys(body.features))
        emit(session, AgentEvent(id=row.id, status=agent_status(row, hub.settings.offline_after_s)))
        kick(session, row.id)  # its room (repos decide which directories are busy)
        kick(session, None)  # queued tasks that may now fit it
    # the key cache holds the row as it was: the next request reads it again
    hub.liveness.forget(agent.id)
    return {"status": "ok", "runners": row.runners, "repos": sorted(row.repos), "labels": row.labels}
