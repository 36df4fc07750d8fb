"""Admin API: registration tokens."""

from __future__ import annotations

import pytest
import yaml

from orchestratia.protocol import hub_url_from_token

from ...helpers import ADMIN, Api


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_tokens_create_list_revoke(api: Api) -> None:
    created = await api.admin("POST", "/tokens", 201, json={"label": "web 1", "expires_in": "30m"})
    assert set(created) >= {"id", "label", "token", "expires_at", "config_snippet", "register_command"}
    assert hub_url_from_token(created["token"]) == "http://hub.test"
    assert created["register_command"] == f"orchestratia agent register {created['token']}"
    config = yaml.safe_load(created["config_snippet"])
    assert config["hub_url"] == "http://hub.test" and config["registration_token"] == created["token"]
    assert config["api_key"] == "" and config["agent_name"] == "web-1"
    assert config["claude"]["max_turns"] == 50 and config["session"]["backend"] == "screen"
    assert "path" in config["repos"]["your-repo-name"]
    listed = await api.admin("GET", "/tokens")
    assert [t["status"] for t in listed] == ["active"] and "token" not in listed[0]
    revoked = await api.admin("POST", f"/tokens/{created['id']}/revoke")
    assert revoked["status"] == "revoked"
    await api.admin("POST", "/tokens/00000000-0000-0000-0000-000000000000/revoke", 404)
    for bad in ("soon", "0h", "9999d"):
        r = await api.client.post(f"{ADMIN}/tokens", json={"expires_in": bad}, headers=api.headers)
        assert r.status_code == 422 and "expires_in" in r.json()["detail"]
