"""An agent that goes silent mid-task: the hub ends the task ``lost`` after its grace period,
``tasks watch`` exits 4, and a late ``complete`` from that agent is still accepted."""

from __future__ import annotations

import httpx
import pytest

from integration_harness import Cli, Hub

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def quick_hub(tmp_path) -> Hub:
    hub = Hub(tmp_path / "hub", extra_env={"ORCHESTRATIA_OFFLINE_AFTER_S": "1", "ORCHESTRATIA_LOST_GRACE_S": "2"})
    try:
        yield hub.start()
    finally:
        hub.stop()


def test_silent_agent_task_ends_lost_and_watch_exits_4(quick_hub: Hub, tmp_path) -> None:
    hub = quick_hub
    reg = httpx.post(f"{hub.url}/api/v1/agents/register", timeout=10, json={
        "name": "silent", "hostname": "h", "ip": "127.0.0.1", "os": "Linux", "repos": {"r": str(tmp_path)},
        "system_info": {}, "registration_token": hub.create_token("silent")})
    assert reg.status_code == 200, reg.text
    agent = httpx.Client(base_url=f"{hub.url}/api/v1/agents", headers={"X-API-Key": reg.json()["api_key"]}, timeout=10)
    cli = Cli(hub, tmp_path / "cli")
    task = cli.json("tasks", "create", "--title", "t", "--spec", "s", "--agent", "silent", "--repo", "r")
    assert agent.post(f"/tasks/{task['id']}/start", json={}).status_code == 200

    watched = cli.run("tasks", "watch", task["id"], check=False, timeout=40)  # the agent now says nothing
    assert watched.returncode == 4, (watched.stdout, watched.stderr)
    assert "lost" in watched.stderr
    assert hub.task(task["id"])["status"] == "lost"
    assert cli.json("agents", "show", "silent")["status"] == "OFFLINE"

    late = agent.post(f"/tasks/{task['id']}/complete", json={"result": {"output_lines": 0}})
    assert late.status_code == 200, late.text
    assert hub.task(task["id"])["status"] == "completed"
