"""An in-process hub for the fuzz and authorization tests: ``create_app(load_settings(...))`` on a
temp SQLite store, driven by Starlette's TestClient (which runs the lifespan), plus a small
"world" of agents, tasks and an intervention to aim requests at."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from starlette.testclient import TestClient

ADMIN_PASSWORD = "fuzz-admin-password-Zq81"
V1 = "/api/v1/agents"


def make_client(data_dir: Path, **overrides: Any) -> TestClient:
    from orchestratia.hub.app import create_app
    from orchestratia.hub.settings import load_settings

    settings = load_settings(data_dir=str(data_dir), admin_password=ADMIN_PASSWORD, check_interval_s=0.25,
                             login_failures_per_minute=10_000, **overrides)
    return TestClient(create_app(settings), raise_server_exceptions=False)


@dataclass
class World:
    client: TestClient
    admin_token: str = ""
    keys: dict[str, str] = field(default_factory=dict)  # agent name -> API key
    agent_ids: dict[str, str] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)  # every registration token issued
    token_ids: list[str] = field(default_factory=list)
    tasks: dict[str, str] = field(default_factory=dict)  # label -> task id
    intervention_id: str = ""
    dead_admin_token: str = ""
    password: str = ADMIN_PASSWORD

    # ------------------------------------------------------------------ helpers

    def admin(self, method: str, path: str, token: str | None = None, **kw: Any):
        headers = {"Authorization": f"Bearer {token or self.admin_token}", **kw.pop("headers", {})}
        return self.client.request(method, "/api/admin" + path, headers=headers, **kw)

    def agent(self, method: str, path: str, name: str, **kw: Any):
        headers = {"X-API-Key": self.keys[name], **kw.pop("headers", {})}
        return self.client.request(method, V1 + path, headers=headers, **kw)

    def login(self) -> str:
        r = self.client.post("/api/admin/login", json={"username": "admin", "password": self.password})
        assert r.status_code == 200, r.text
        return r.json()["token"]

    def new_token(self, label: str) -> str:
        r = self.admin("POST", "/tokens", json={"label": label, "expires_in": "24h"})
        assert r.status_code == 201, r.text
        body = r.json()
        self.tokens.append(body["token"])
        self.token_ids.append(body["id"])
        return body["token"]

    def register(self, name: str) -> str:
        token = self.new_token(name)
        r = self.client.post(V1 + "/register", json={
            "name": name, "hostname": f"{name}.local", "ip": "127.0.0.1", "os": "Linux",
            "repos": {"work": "/srv/work"}, "system_info": {}, "registration_token": token,
            "runners": ["claude", "shell"], "max_concurrent_tasks": 10})
        assert r.status_code == 200, r.text
        body = r.json()
        self.keys[name], self.agent_ids[name] = body["api_key"], body["id"]
        return body["api_key"]

    def create_task(self, label: str, agent: str) -> str:
        r = self.admin("POST", "/tasks", json={"title": label, "spec": f"do {label}", "agent": agent,
                                               "target_repo": "work"})
        assert r.status_code == 201, r.text
        self.tasks[label] = r.json()["id"]
        return self.tasks[label]

    def secrets(self) -> list[str]:
        """Every secret issued in this world, and the distinctive part of each."""
        out = [self.password, self.admin_token, self.dead_admin_token, *self.keys.values(), *self.tokens]
        out += [t.split(".", 1)[1] for t in self.tokens if "." in t]
        out += [k[len("orc_"):] for k in self.keys.values()]
        return [s for s in out if s]


def build_world(client: TestClient, password: str = ADMIN_PASSWORD) -> World:
    """Agents ``alice`` and ``bob`` (live), ``mallory`` (revoked); tasks for alice in several
    states; one pending intervention on alice's running task."""
    w = World(client, password=password)
    w.admin_token = w.login()
    w.dead_admin_token = w.login()
    assert w.admin("POST", "/logout", token=w.dead_admin_token).status_code in (200, 204)
    for name in ("alice", "bob", "mallory"):
        w.register(name)
    r = w.admin("POST", f"/agents/{w.agent_ids['mallory']}/revoke")
    assert r.status_code == 200, r.text
    w.create_task("assigned", "alice")
    w.create_task("running", "alice")
    w.create_task("done", "alice")
    w.create_task("bob-task", "bob")
    for label in ("running", "done"):
        r = w.agent("POST", f"/tasks/{w.tasks[label]}/start", "alice", json={})
        assert r.status_code == 200, r.text
    r = w.agent("POST", f"/tasks/{w.tasks['done']}/complete", "alice", json={"result": {"output_lines": 0}})
    assert r.status_code == 200, r.text
    r = w.agent("POST", f"/tasks/{w.tasks['running']}/help", "alice", json={"question": "which branch?"})
    assert r.status_code == 201, r.text
    w.intervention_id = r.json()["intervention_id"]
    return w


class CaptureLogs(logging.Handler):
    """Every log record of every logger at ``level`` and above (INFO: what a hub logs as
    deployed; DEBUG adds libraries' SQL parameters and protocol detail), formatted, including
    exception text."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - a record that cannot format is still evidence
            self.lines.append(repr(record.__dict__))

    def __enter__(self) -> "CaptureLogs":
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(self)
        root.setLevel(self.level)
        return self

    def __exit__(self, *exc) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._level)


def iter_text(*chunks: Any) -> Iterator[str]:
    for c in chunks:
        if isinstance(c, bytes):
            yield c.decode("utf-8", "replace")
        else:
            yield str(c)
