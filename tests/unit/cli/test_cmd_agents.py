"""`orchestratia agents ...` against a stand-in hub: ids as `agents list` shows them, delete,
and an agent's own words (name, hostname, ...) never reaching the terminal raw."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from .stand_in import run

AGENT = {
    "id": "aaaa1111-2222-4333-8444-555555555555", "name": "build-box", "hostname": "box", "ip": "10.0.0.2", "os": "Linux",
    "status": "REVOKED", "last_seen_at": None, "created_at": "2026-01-01T00:00:00+00:00", "system_info": {},
    "repos": {"work": "/srv/work"}, "runners": ["claude"], "labels": [], "agent_version": "1", "max_concurrent_tasks": 2,
    "running_tasks": [],
}
OTHER = {**AGENT, "id": "bbbb1111-2222-4333-8444-555555555555", "name": "other"}


def agents_hub(request: httpx.Request) -> httpx.Response:
    path, method = request.url.path, request.method
    if path == "/api/admin/agents":
        return httpx.Response(200, json=[AGENT, OTHER])
    for agent in (AGENT, OTHER):
        if path in (f"/api/admin/agents/{agent['id']}", f"/api/admin/agents/{agent['name']}"):
            return httpx.Response(204) if method == "DELETE" else httpx.Response(200, json=agent)
    wanted = path.rsplit("/", 1)[-1]
    return httpx.Response(404, json={"detail": f"agent {wanted!r} not found (see GET /api/admin/agents)"})


def test_show_takes_the_id_prefix_that_list_displays(hub, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    seen = hub(agents_hub)
    listed = run("agents", "list").stdout
    assert "aaaa1111" in listed and AGENT["id"] not in listed
    shown = run("agents", "show", "aaaa1111", "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["name"] == "build-box"
    assert run("agents", "show", "build-box", "--json").exit_code == 0  # a name still works
    assert [r.url.path for r in seen][-1] == "/api/admin/agents/build-box"


def test_an_unknown_agent_points_at_the_cli_not_the_api(hub) -> None:
    hub(agents_hub)
    result = run("agents", "show", "nope")
    assert result.exit_code == 1 and "/api/" not in result.stderr
    assert "see `orchestratia agents list`" in result.stderr
    result = run("agents", "show", "cccc")
    assert result.exit_code == 1 and "no agent is named 'cccc' or has an id starting with it" in result.stderr


def test_delete_by_name_or_prefix(hub) -> None:
    seen = hub(agents_hub)
    result = run("agents", "delete", "aaaa")
    assert result.exit_code == 0, result.output
    assert "Agent build-box (aaaa1111-2222-4333-8444-555555555555) is deleted." in result.stdout
    assert (seen[-1].method, seen[-1].url.path) == ("DELETE", f"/api/admin/agents/{AGENT['id']}")


def test_delete_refused_is_one_line(hub) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(409, json={"detail": "agent 'build-box' is online: stop its daemon or revoke it first, then delete it"})
        return agents_hub(request)

    hub(refuse)
    result = run("agents", "delete", "build-box")
    assert result.exit_code == 1
    assert result.stderr == "error: conflict: agent 'build-box' is online: stop its daemon or revoke it first, then delete it\n"


def test_an_agents_own_words_are_shown_not_obeyed(hub, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    evil = {**AGENT, "name": "evil\x1b]0;pwned\x07", "hostname": "h\x1b]52;c;eA==\x07", "os": "\x1b[2J",
            "repos": {"r\x1b[2J": "/x\x1b[2J"}, "system_info": {"platform": "\x9b2J"}}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[evil] if request.url.path == "/api/admin/agents" else evil)

    hub(handler)
    for args in (("agents", "list"), ("agents", "show", AGENT["id"])):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\x9b" not in result.stdout
        assert "evil␛]0;pwned␇" in result.stdout and "␛[2J" in result.stdout


def cli(real_hub, tmp_path, *args: str):
    """The real CLI (a subprocess) against the real hub."""
    import subprocess
    import sys

    from .real_hub import cli_env

    return subprocess.run([sys.executable, "-m", "orchestratia.cli", *args], capture_output=True, text=True,
                          env=cli_env(tmp_path, real_hub.url, real_hub.token), timeout=60)


@pytest.mark.timeout(120)
def test_delete_against_a_real_hub(real_hub, tmp_path) -> None:
    suffix = uuid.uuid4().hex[:6]
    never_seen = real_hub.register(f"never-seen-{suffix}")
    assert httpx.delete(f"{real_hub.url}/api/admin/agents/{never_seen.id}", timeout=10).status_code == 401  # admins only
    done = cli(real_hub, tmp_path, "agents", "delete", never_seen.id[:8])
    assert done.returncode == 0, done.stderr
    assert real_hub.api("GET", f"/agents/{never_seen.id}").status_code == 404
    refused_key = httpx.post(f"{real_hub.url}/api/v1/agents/heartbeat", json={}, headers={"X-API-Key": never_seen.key})
    assert refused_key.status_code == 401

    online = real_hub.register(f"online-{suffix}")
    online.post("/heartbeat", {})
    refused = cli(real_hub, tmp_path, "agents", "delete", f"online-{suffix}")
    assert refused.returncode == 1
    assert refused.stderr == (f"error: conflict: agent 'online-{suffix}' is online: stop its daemon or revoke it first, "
                              "then delete it\n")

    task = real_hub.api("POST", "/tasks", json={"title": "t", "spec": "s", "agent": online.id, "runner": "shell",
                                               "target_repo": "r"}).json()
    online.post(f"/tasks/{task['id']}/start", {})
    assert cli(real_hub, tmp_path, "agents", "revoke", online.id).returncode == 0
    busy = cli(real_hub, tmp_path, "agents", "delete", online.id)
    assert busy.returncode == 1 and "has 1 task(s) assigned or running: cancel them" in busy.stderr
    assert cli(real_hub, tmp_path, "tasks", "cancel", task["id"]).returncode == 0
    gone = cli(real_hub, tmp_path, "agents", "delete", online.id)
    assert gone.returncode == 0, gone.stderr
    assert f"Agent online-{suffix} ({online.id}) is deleted." in gone.stdout
    kept = real_hub.api("GET", f"/tasks/{task['id']}").json()
    assert kept["status"] == "cancelled" and kept["agent"] is None  # history stays, without the agent
    assert cli(real_hub, tmp_path, "agents", "show", online.id).returncode == 1
