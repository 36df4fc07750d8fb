"""queue_reason: the pure rules (every reason), and what the admin API shows (two reads per list)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from orchestratia.hub.scheduler.reasons import Fleet, impossible, queue_reason

from ..helpers import Api


def agent(name: str, repos: dict[str, Any] | None = None, runners: list[str] | None = None, cap: int = 2,
          revoked: bool = False) -> Any:
    return SimpleNamespace(id=f"id-{name}", name=name, repos=repos if repos is not None else {"app": "/srv/app"},
                           runners=runners if runners is not None else ["claude", "shell"],
                           max_concurrent_tasks=cap, revoked_at="then" if revoked else None)


def task(status: str = "queued", repo: str = "app", runner: str | None = None, agent_id: str | None = None) -> Any:
    return SimpleNamespace(id="t", status=status, target_repo=repo, runner=runner, agent_id=agent_id)


def fleet(agents: list[Any], online: list[str], active: list[tuple[str, str, str | None]] = ()) -> Fleet:
    return Fleet.of(agents, {f"id-{n}" for n in online}, active)


def test_queued_reasons() -> None:
    web, api_ = agent("web-1"), agent("api-1", repos={"api": "/srv/api"})
    assert queue_reason(task(), fleet([], [])).startswith("no agent is registered")
    assert queue_reason(task(), fleet([web], [])) == "no agent is online"
    assert queue_reason(task(repo="x"), fleet([web], ["web-1"])) == "no agent has repo x"
    assert queue_reason(task(runner="codex"), fleet([web], ["web-1"])) == "no agent with repo app has runner codex"
    assert queue_reason(task(repo="", runner="codex"), fleet([web], ["web-1"])) == "no agent has runner codex"
    assert queue_reason(task(), fleet([web, api_], ["api-1"])) == "agent web-1 offline"
    two = [web, agent("web-2")]
    assert queue_reason(task(), fleet(two + [api_], ["api-1"])) == "no online agent has repo app"
    full = [("id-web-1", "running", "x"), ("id-web-1", "assigned", "y")]
    assert queue_reason(task(), fleet([web], ["web-1"], full)) == "agent web-1 at capacity (2/2)"
    busy = [("id-web-1", "running", "app")]
    assert queue_reason(task(), fleet([web], ["web-1"], busy)) == "agent web-1 is running another task in repo app"
    assert queue_reason(task(), fleet([web], ["web-1"])) == "an agent has room: being assigned"
    old = agent("old", runners=None)  # a v1 daemon: Claude Code only
    old.runners = None
    assert queue_reason(task(runner="claude"), fleet([old], ["old"])) == "an agent has room: being assigned"
    assert queue_reason(task(status="running"), fleet([web], ["web-1"])) is None


def test_assigned_reasons() -> None:
    web = agent("web-1", cap=1)
    mine = task(status="assigned", agent_id="id-web-1")
    assert queue_reason(mine, fleet([web], [])) == "agent web-1 offline"
    assert queue_reason(mine, fleet([web], ["web-1"], [("id-web-1", "running", "x")])) == "agent web-1 at capacity (1/1)"
    assert queue_reason(mine, fleet([web], ["web-1"])) == "waiting for agent web-1 to start it"


def test_impossible_only_when_no_registered_agent_ever_could() -> None:
    web = agent("web-1")
    assert impossible(task(), [web]) is None  # offline, busy: it may come
    assert impossible(task(repo="x"), [web]) == "no agent has repo x"
    assert impossible(task(repo="x"), [agent("gone", repos={"x": "/x"}, revoked=True), web]) == "no agent has repo x"
    assert impossible(task(status="assigned", repo="x", agent_id="id-web-1"), [web]) == "agent web-1 has no repo x"
    assert impossible(task(status="assigned", runner="aider", agent_id="id-web-1"), [web]) == "agent web-1 has no runner aider"


async def test_admin_task_views_carry_queue_reason(api: Api) -> None:
    created = await api.task(target_repo="nowhere")
    assert created["queue_reason"] == "no agent is registered (orchestratia tokens create, then agent register on a server)"
    assert created["warning"].startswith("no registered agent can take this task yet")
    dev = await api.online("dev-1", repos={"app": "/srv/app"}, runners=["claude"])
    shown = await api.admin("GET", f"/tasks/{created['id']}")
    assert shown["queue_reason"] == "no agent has repo nowhere"
    mine = await api.task(agent="dev-1", target_repo="app")
    assert "warning" not in mine
    listed = {t["id"]: t["queue_reason"] for t in await api.admin("GET", "/tasks")}
    assert listed[created["id"]] == "no agent has repo nowhere"
    assert listed[mine["id"]] == "waiting for agent dev-1 to start it"
    await api.agent(dev, "POST", f"/tasks/{mine['id']}/start", json={})
    assert (await api.admin("GET", f"/tasks/{mine['id']}"))["queue_reason"] is None
