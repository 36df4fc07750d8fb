"""The CLI's admin commands end to end: tokens, agents, interventions."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest

from integration_harness import Agent, Cli, Hub, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def test_tokens_register_show_and_revoke(hub: Hub, cli: Cli, tmp_path) -> None:
    token = cli.json("tokens", "create", "--label", "cli-e2e", "--expires", "30m")
    assert token["token"].startswith("orcreg_") and token["token"] in token["config_snippet"]
    assert token["label"] == "cli-e2e"
    human = cli.run("tokens", "create", "--label", "human").stdout
    assert "orchestratia agent register orcreg_" in human

    listed = {t["id"]: t for t in cli.json("tokens", "list")}
    assert listed[token["id"]]["status"] == "active" and "token" not in listed[token["id"]]

    config = tmp_path / "agent" / "config.yaml"
    name = f"cli-e2e-{int(time.time() * 1000) % 100000}"
    out = cli.run("agent", "register", token["token"], "--config", str(config), "--name", name)
    assert name in out.stdout and "API key saved" in out.stdout and "orc_" not in out.stdout
    assert oct(config.stat().st_mode & 0o777) == "0o600" and "api_key: orc_" in config.read_text()
    assert {t["id"]: t for t in cli.json("tokens", "list")}[token["id"]]["status"] == "used"

    again = cli.run("agent", "register", token["token"], "--config", str(tmp_path / "other.yaml"), check=False)
    assert again.returncode != 0 and "used" in again.stderr and "Traceback" not in again.stderr

    shown = cli.json("agents", "show", name)
    assert shown["name"] == name and shown["status"] in {"OFFLINE", "ONLINE"}
    assert name in cli.run("agents", "show", name).stdout
    cli.run("agents", "revoke", name)
    assert cli.json("agents", "show", name)["status"] == "REVOKED"

    spare = cli.json("tokens", "create", "--label", "spare")
    cli.run("tokens", "revoke", spare["id"])
    assert {t["id"]: t for t in cli.json("tokens", "list")}[spare["id"]]["status"] == "revoked"
    refused = cli.run("agent", "register", spare["token"], "--config", str(tmp_path / "spare.yaml"), check=False)
    assert refused.returncode != 0 and "revoked" in refused.stderr


def test_interventions_list_and_answer(hub: Hub, cli: Cli, tmp_path) -> None:
    # A plain v1 client asks for help; the human answers with the CLI.
    name = f"helpme-{int(time.time() * 1000) % 100000}"
    reg = httpx.post(f"{hub.url}/api/v1/agents/register", timeout=10, json={
        "name": name, "hostname": "h", "ip": "127.0.0.1", "os": "Linux", "repos": {"r": str(tmp_path)},
        "system_info": {}, "registration_token": hub.create_token("helpme")})
    assert reg.status_code == 200, reg.text
    agent_http = httpx.Client(base_url=f"{hub.url}/api/v1/agents", headers={"X-API-Key": reg.json()["api_key"]}, timeout=10)
    task = cli.json("tasks", "create", "--title", "needs a human", "--spec", "ask", "--agent", name, "--repo", "r")
    assert agent_http.post(f"/tasks/{task['id']}/start", json={}).status_code == 200
    asked = agent_http.post(f"/tasks/{task['id']}/help", json={"question": "Drop the old table?", "context": "db"})
    assert asked.status_code == 201, asked.text
    iid = asked.json()["intervention_id"]

    pending = cli.json("interventions", "list", "--status", "pending")
    assert iid in [i["id"] for i in pending]
    assert "Drop the old table?" in cli.run("interventions", "list").stdout
    cli.run("interventions", "answer", iid, "Yes, drop it")
    seen = agent_http.get(f"/interventions/{iid}").json()
    assert seen["status"] == "answered" and seen["response"] == "Yes, drop it"
    twice = cli.run("interventions", "answer", iid, "No!", check=False)
    assert twice.returncode == 1 and twice.stderr.startswith("error: conflict:")
    assert agent_http.post(f"/tasks/{task['id']}/complete", json={"result": {}}).status_code == 200
