"""/agents: the list (status, last contact, CPU/memory/disk, repos, running tasks), live
status, revoke with confirmation. Registration through the dialog is the `agent` fixture."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from browser_helpers import shoot


def register_via_api(hub: Any, name: str) -> dict[str, Any]:
    """A second agent that speaks v1 only (no daemon): token from the admin API, register."""
    r = hub.api("POST", "/tokens", json={"label": name, "expires_in": "30m"})
    assert r.status_code == 201, r.text
    body = {"name": name, "hostname": f"{name}.lan", "ip": "10.0.0.7", "os": "Linux",
            "repos": {"legacy": "/srv/legacy"}, "registration_token": r.json()["token"],
            "system_info": {"cpu_percent": 93.0, "cpu_count": 8, "memory_percent": 71.5, "memory_used_gb": 22.9,
                            "memory_total_gb": 32.0, "disk_percent": 40.0, "disk_used_gb": 200, "disk_total_gb": 500}}
    reg = httpx.post(f"{hub.url}/api/v1/agents/register", json=body, timeout=10)
    assert reg.status_code == 200, reg.text
    return reg.json()


def test_agents_list_live_and_revoke(page: Any, hub: Any, agent: Any) -> None:
    page.goto("/agents")
    row = page.locator("#agents-body tr", has=page.get_by_text("web-1", exact=True))
    expect(row.locator(".pill")).to_have_text("online")
    expect(row.locator("td[data-label=Repos]")).to_contain_text("api")
    expect(row.locator("td[data-label=Repos]")).to_contain_text("web")
    expect(row.locator("td[data-label='Last contact']")).to_have_text(re.compile(r"^\d+ s ago$"))
    expect(row.locator("td[data-label=CPU] [role=meter]")).to_have_count(1, timeout=20_000)
    expect(row.locator("td[data-label=Memory]")).to_contain_text("GB")

    legacy = register_via_api(hub, "legacy-box")
    other = page.locator("#agents-body tr", has=page.get_by_text("legacy-box", exact=True))
    expect(other).to_be_visible()  # appears live: the registration is a hub event
    expect(other.locator("td[data-label=CPU]")).to_contain_text("93%")
    shoot(page, "agents")

    other.get_by_role("button", name="Revoke agent legacy-box").click()
    confirm = page.get_by_role("dialog", name="Are you sure?")
    expect(confirm).to_contain_text("legacy-box")
    confirm.get_by_role("button", name="Keep it").click()
    expect(other.locator(".pill")).not_to_have_text("revoked")
    other.get_by_role("button", name="Revoke agent legacy-box").click()
    confirm.get_by_role("button", name="Revoke").click()
    expect(other.locator(".pill")).to_have_text("revoked")
    r = httpx.get(f"{hub.url}/api/v1/agents/tasks/poll", headers={"X-API-Key": legacy["api_key"]}, timeout=10)
    assert r.status_code == 401  # its key stopped working


def test_online_offline_changes_live(page: Any, hub: Any, agent: Any) -> None:
    quiet = register_via_api(hub, "quiet-box")  # a v1 agent: contact only when we say so
    page.goto("/agents")
    row = page.locator("#agents-body tr", has=page.get_by_text("quiet-box", exact=True))
    expect(row.locator(".pill")).to_have_text("offline")  # registering is not contact
    expect(row.locator("td[data-label='Last contact']")).to_have_text("never")
    r = httpx.post(f"{hub.url}/api/v1/agents/heartbeat", headers={"X-API-Key": quiet["api_key"]},
                   json={"system_info": {"cpu_percent": 3.0}}, timeout=10)
    assert r.status_code == 200, r.text
    expect(row.locator(".pill")).to_have_text("online")  # its first contact, live
    expect(row.locator(".pill")).to_have_text("offline", timeout=25_000)  # no contact for 8 s
    expect(page.locator("#agents-summary")).to_contain_text("1 offline")
    r = httpx.post(f"{hub.url}/api/v1/agents/heartbeat", headers={"X-API-Key": quiet["api_key"]},
                   json={"system_info": {"cpu_percent": 12.5}}, timeout=10)
    assert r.status_code == 200, r.text
    expect(row.locator(".pill")).to_have_text("online")
    expect(row.locator("td[data-label='Last contact']")).to_have_text(re.compile(r"^\d s ago$"))
    hub.api("POST", f"/agents/{quiet['id']}/revoke")


def test_agent_name_links_to_its_tasks(page: Any, hub: Any, agent: Any) -> None:
    page.goto("/agents")
    page.get_by_role("link", name="web-1", exact=True).click()
    expect(page).to_have_url(f"{hub.url}/tasks?agent=web-1")
    expect(page.get_by_text("Agent: web-1")).to_be_visible()
    page.get_by_role("link", name="completed", exact=True).click()
    expect(page).to_have_url(f"{hub.url}/tasks?status=completed&agent=web-1")


def test_registration_tokens_list_and_revoke(page: Any, hub: Any, agent: Any) -> None:
    page.goto("/agents")
    page.get_by_role("button", name="Register agent").click()
    dialog = page.get_by_role("dialog", name="Register an agent")
    dialog.get_by_label("Label").fill("spare-token")
    dialog.get_by_role("button", name="Generate token").click()
    token = dialog.locator("#reg-token")
    expect(token).to_have_text(re.compile(r"^orcreg_"))
    secret = token.inner_text().strip()
    dialog.get_by_role("button", name="Close").click()
    page.get_by_text("Registration tokens").click()
    tokens = page.get_by_role("table", name="Registration tokens")
    used = tokens.locator("tr", has=page.get_by_text("web-1", exact=True)).first
    expect(used.locator(".pill")).to_have_text("used")
    spare = tokens.locator("tr", has=page.get_by_text("spare-token", exact=True))
    expect(spare.locator(".pill")).to_have_text("active")
    shoot(page, "agents-tokens")
    spare.get_by_role("button", name="Revoke token spare-token").click()
    page.get_by_role("dialog", name="Are you sure?").get_by_role("button", name="Revoke").click()
    expect(spare.locator(".pill")).to_have_text("revoked")
    reg = httpx.post(f"{hub.url}/api/v1/agents/register", json={"name": "nope", "hostname": "h", "ip": "1.2.3.4",
                     "os": "Linux", "repos": {}, "system_info": {}, "registration_token": secret}, timeout=10)
    assert reg.status_code == 401 and "revoked" in reg.json()["detail"]
