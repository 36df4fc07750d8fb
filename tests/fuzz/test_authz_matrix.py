"""The authorization matrix: every agent and admin endpoint × every kind of credential → the
status PROTOCOL.md and docs/architecture.md promise.

Agent API: no key, a wrong key, a revoked agent's key, the admin's bearer token (in either
header) → 401; another agent's key on a task or intervention → 404 (exactly like an unknown id,
so ids cannot be probed); the owner → not 401/403/404.
Admin API: no token, a wrong token, a logged-out token, an agent's API key (as bearer or as
X-API-Key) → 401; the admin → not 401/403.
Public by design: the probes and the scrape (``/health``, ``/healthz``, ``/readyz``,
``/metrics``) answer without credentials, and say nothing secret or private.
Every 401 carries ``{"detail": ...}`` and no response is a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from hubapp import V1, World, build_world, make_client

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    client = make_client(Path(tmp_path_factory.mktemp("authz")))
    with client:
        yield build_world(client)


# (method, path template, json body, task label or None)
AGENT_ENDPOINTS = [
    ("POST", "/heartbeat", {"system_info": {}}, None),
    ("GET", "/tasks/poll", None, None),
    ("POST", "/tasks/{task}/start", {}, "assigned"),
    ("POST", "/tasks/{task}/complete", {"result": {}}, "running"),
    ("POST", "/tasks/{task}/fail", {"error": "x"}, "running"),
    ("POST", "/tasks/{task}/help", {"question": "q?"}, "running"),
    ("GET", "/interventions/{intervention}", None, "running"),
    ("POST", "/interventions/{intervention}/withdraw", None, "running"),
]

BAD_AGENT_CREDENTIALS = ["none", "wrong", "revoked", "admin-bearer", "admin-as-key", "empty", "prefix-only"]


def agent_headers(world: World, who: str) -> dict[str, str]:
    return {
        "none": {},
        "wrong": {"X-API-Key": "orc_" + "A" * 43},
        "empty": {"X-API-Key": ""},
        "prefix-only": {"X-API-Key": "orc_"},
        "revoked": {"X-API-Key": world.keys["mallory"]},
        "admin-bearer": {"Authorization": f"Bearer {world.admin_token}"},
        "admin-as-key": {"X-API-Key": world.admin_token},
        "other": {"X-API-Key": world.keys["bob"]},
        "owner": {"X-API-Key": world.keys["alice"]},
    }[who]


def fill(world: World, path: str, label: str | None) -> str:
    return path.format(task=world.tasks.get(label or "", "x"), intervention=world.intervention_id)


@pytest.mark.parametrize("who", BAD_AGENT_CREDENTIALS)
@pytest.mark.parametrize("method,path,body,label", AGENT_ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in AGENT_ENDPOINTS])
def test_agent_api_rejects_bad_credentials(world: World, method, path, body, label, who) -> None:
    r = world.client.request(method, V1 + fill(world, path, label), json=body, headers=agent_headers(world, who))
    assert r.status_code == 401, (who, r.status_code, r.text)
    assert "detail" in r.json()


@pytest.mark.parametrize("method,path,body,label", [e for e in AGENT_ENDPOINTS if e[3]],
                         ids=[f"{m} {p}" for m, p, _, l in AGENT_ENDPOINTS if l])
def test_agent_api_hides_other_agents_objects(world: World, method, path, body, label) -> None:
    other = world.client.request(method, V1 + fill(world, path, label), json=body, headers=agent_headers(world, "other"))
    unknown = world.client.request(
        method, V1 + path.format(task="00000000-0000-4000-8000-000000000000",
                                 intervention="00000000-0000-4000-8000-000000000000"),
        json=body, headers=agent_headers(world, "other"))
    assert other.status_code == 404, other.text
    assert unknown.status_code == 404, unknown.text
    assert other.json() == unknown.json() or set(other.json()) == set(unknown.json()) == {"detail"}


def test_other_agents_tasks_never_polled(world: World) -> None:
    r = world.client.get(V1 + "/tasks/poll", headers=agent_headers(world, "other"))
    assert r.status_code == 200
    ids = {t["id"] for t in r.json()}
    assert not ids & {world.tasks[k] for k in ("assigned", "running", "done")}
    assert world.tasks["bob-task"] in ids


@pytest.mark.parametrize("method,path,body,label", AGENT_ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in AGENT_ENDPOINTS])
def test_agent_api_owner_is_let_through(world: World, method, path, body, label) -> None:
    r = world.client.request(method, V1 + fill(world, path, label), json=body, headers=agent_headers(world, "owner"))
    assert r.status_code in (200, 201, 409), (r.status_code, r.text)  # 409: a state the call does not fit


def test_the_owner_withdraws_its_own_question(world: World) -> None:
    """The matrix's owner case accepts 409 (the shared question may be closed by then): here a
    fresh question of the owner's is withdrawn for real, and stays the owner's alone."""
    task = world.create_task("withdraw", "alice")
    assert world.agent("POST", f"/tasks/{task}/start", "alice", json={}).status_code == 200
    r = world.agent("POST", f"/tasks/{task}/help", "alice", json={"question": "still needed?"})
    assert r.status_code == 201, r.text
    question = f"/interventions/{r.json()['intervention_id']}"
    path = question + "/withdraw"
    assert world.agent("POST", path, "bob").status_code == 404  # another agent: as if unknown
    assert world.agent("GET", question, "alice").json()["status"] == "pending"  # and it changed nothing
    for _ in range(2):  # a repeat answers the same
        r = world.agent("POST", path, "alice")
        assert r.status_code == 200 and r.json()["status"] == "withdrawn", r.text


def test_register_with_bad_tokens(world: World) -> None:
    body = {"name": "eve", "hostname": "h", "ip": "127.0.0.1", "os": "Linux", "repos": {}, "system_info": {}}
    for token in ["", "orcreg_x.y", world.tokens[0], "orc_" + "A" * 43]:  # tokens[0] was used by alice
        r = world.client.post(V1 + "/register", json={**body, "registration_token": token})
        assert r.status_code in (401, 422), (token[:12], r.status_code, r.text)
        assert "detail" in r.json()
    # a revoked token
    token = world.new_token("to-revoke")
    assert world.admin("POST", f"/tokens/{world.token_ids[-1]}/revoke").status_code == 200
    r = world.client.post(V1 + "/register", json={**body, "registration_token": token})
    assert r.status_code == 401 and "revoked" in r.json()["detail"].lower(), r.text


def _admin_endpoints(world: World) -> list[tuple[str, str, dict | None]]:
    task, done, agent = world.tasks["assigned"], world.tasks["done"], world.agent_ids["bob"]
    token_id = world.token_ids[0]
    return [
        ("GET", "/me", None),
        ("POST", "/tokens", {"label": "m", "expires_in": "30m"}),
        ("GET", "/tokens", None),
        ("POST", f"/tokens/{token_id}/revoke", None),
        ("GET", "/agents", None),
        ("GET", f"/agents/{agent}", None),
        ("GET", "/agents/bob", None),
        ("POST", f"/agents/{world.agent_ids['mallory']}/revoke", None),
        ("POST", "/tasks", {"title": "t", "spec": "s", "agent": "bob"}),
        ("GET", "/tasks", None),
        ("GET", f"/tasks/{task}", None),
        ("GET", f"/tasks/{task}/output", None),
        ("GET", f"/tasks/{done}/stream", None),
        ("POST", f"/tasks/{done}/cancel", {"reason": "r"}),
        ("POST", f"/tasks/{done}/replies", {"message": "m"}),
        ("GET", f"/tasks/{task}/thread", None),
        ("POST", "/pipelines", {"yaml": "tasks: {a: {spec: s}}"}),
        ("GET", "/pipelines", None),
        ("GET", "/pipelines/00000000-0000-4000-8000-000000000000", None),
        ("POST", "/pipelines/00000000-0000-4000-8000-000000000000/cancel", None),
        ("GET", "/interventions", None),
        ("POST", f"/interventions/{world.intervention_id}/answer", {"response": "main"}),
        ("GET", "/events", None),
        ("POST", "/logout", None),
    ]


BAD_ADMIN_CREDENTIALS = ["none", "wrong", "logged-out", "agent-key-bearer", "agent-key-header", "basic", "cookie-no-csrf"]


def admin_headers(world: World, who: str) -> dict[str, str]:
    return {
        "none": {},
        "wrong": {"Authorization": "Bearer orcs_" + "B" * 43},
        "logged-out": {"Authorization": f"Bearer {world.dead_admin_token}"},
        "agent-key-bearer": {"Authorization": f"Bearer {world.keys['alice']}"},
        "agent-key-header": {"X-API-Key": world.keys["alice"]},
        "basic": {"Authorization": "Basic YWRtaW46" + "eA=="},
        "cookie-no-csrf": {"Cookie": f"orc_session={world.admin_token}"},
    }[who]


@pytest.mark.parametrize("who", BAD_ADMIN_CREDENTIALS)
def test_admin_api_rejects_bad_credentials(world: World, who: str) -> None:
    failures = []
    for method, path, body in _admin_endpoints(world):
        if who == "cookie-no-csrf" and method == "GET":
            continue  # a session cookie is a valid credential for safe methods
        r = world.client.request(method, "/api/admin" + path, json=body, headers=admin_headers(world, who))
        expected = (401, 403) if who == "cookie-no-csrf" else (401,)
        if r.status_code not in expected or "detail" not in r.json():
            failures.append(f"{method} {path}: {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)


def test_admin_api_lets_the_admin_through(world: World) -> None:
    failures = []
    for method, path, body in _admin_endpoints(world):
        if path in ("/events", "/logout"):
            continue  # an endless stream; logging out would end the session for the other cases
        r = world.admin(method, path, json=body)
        if r.status_code in (401, 403) or r.status_code >= 500:
            failures.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)


def test_websocket_rejects_bad_keys(world: World) -> None:
    from starlette.websockets import WebSocketDisconnect

    for who, headers, first in [
        ("no key", {}, {"type": "auth", "api_key": "orc_" + "C" * 43}),
        ("revoked header", {"X-API-Key": world.keys["mallory"]}, None),
        ("revoked message", {}, {"type": "auth", "api_key": world.keys["mallory"]}),
        ("admin token", {}, {"type": "auth", "api_key": world.admin_token}),
    ]:
        try:
            with world.client.websocket_connect("/ws/agent", headers=headers) as ws:
                if first:
                    ws.send_json(first)
                msg = ws.receive_json()
                assert msg["type"] == "auth_error", (who, msg)
                assert world.keys["mallory"] not in msg.get("detail", "")
        except WebSocketDisconnect as exc:
            assert exc.code == 4401, (who, exc.code)


def test_websocket_output_for_another_agents_task_is_dropped(world: World) -> None:
    task = world.tasks["running"]
    before = world.admin("GET", f"/tasks/{task}/output").content
    with world.client.websocket_connect("/ws/agent", headers={"X-API-Key": world.keys["bob"]}) as ws:
        assert ws.receive_json()["type"] == "auth_ok"
        ws.send_json({"type": "output", "task_id": task, "content": "INJECTED by bob\n", "stream": "stdout"})
        ws.send_json({"type": "ping"})
        while ws.receive_json()["type"] != "pong":
            pass
    assert world.admin("GET", f"/tasks/{task}/output").content == before


#: the routes that need no credentials, on purpose: probes for load balancers and orchestrators,
#: and Prometheus' scrape (ORCHESTRATIA_METRICS_ENABLED=false removes it; METRICS_TOKEN guards it)
PUBLIC_ENDPOINTS = ["/health", "/healthz", "/readyz", "/metrics"]


@pytest.mark.parametrize("path", PUBLIC_ENDPOINTS)
def test_public_endpoints_need_no_credentials_and_reveal_nothing(world: World, path: str) -> None:
    r = world.client.get(path)
    assert r.status_code == 200, r.text
    private = [world.admin_token, world.dead_admin_token, world.password, *world.keys.values(), *world.tokens,
               *world.tasks.values(), world.intervention_id, *world.agent_ids.values()]
    found = [p for p in private if p and p in r.text]
    assert not found, found
