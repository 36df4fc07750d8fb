"""The compatibility promise: a minimal agent written strictly from PROTOCOL.md's v1 part
(token in the register body, X-API-Key, first-message WebSocket auth, plain ``output``
messages, polling) runs a task to ``completed`` on the real hub.

Nothing here imports orchestratia: this is what a daemon already deployed in the field does."""

from __future__ import annotations

import contextlib
import json
import platform
import socket
import time

import httpx
import pytest
from websockets.sync.client import connect

from integration_harness import Cli, Hub, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


class V1Agent:
    def __init__(self, hub_url: str) -> None:
        self.hub_url = hub_url
        self.http = httpx.Client(base_url=f"{hub_url}/api/v1/agents", timeout=10)
        self.api_key = ""
        self.ws = None
        self.stack = contextlib.ExitStack()

    def register(self, name: str, token: str, repo_path: str) -> dict:
        body = {
            "name": name,
            "hostname": socket.gethostname(),
            "ip": "127.0.0.1",
            "os": platform.system(),
            "repos": {"legacy": repo_path},
            "system_info": {"cpu_count": 2, "platform": "Linux"},
            "registration_token": token,
        }
        r = self.http.post("/register", json=body)
        assert r.status_code == 200, r.text
        data = r.json()
        assert {"id", "name", "api_key"} <= set(data) and data["api_key"].startswith("orc_")
        self.api_key = data["api_key"]
        self.http.headers["X-API-Key"] = self.api_key
        return data

    def heartbeat(self) -> None:
        info = {"cpu_count": 2, "cpu_percent": 1.0, "memory_total_gb": 4.0, "memory_used_gb": 1.0,
                "memory_percent": 25.0, "disk_total_gb": 50.0, "disk_used_gb": 10.0, "disk_percent": 20.0,
                "platform": "Linux", "platform_release": "6", "python_version": "3.8.10", "uptime_seconds": 5}
        r = self.http.post("/heartbeat", json={"system_info": info})
        assert r.status_code == 200, r.text

    def connect_ws(self) -> None:
        ws_url = self.hub_url.replace("http://", "ws://", 1) + "/ws/agent"
        # no X-API-Key header: first-message auth
        self.ws = self.stack.enter_context(connect(ws_url, open_timeout=10))
        self.ws.send(json.dumps({"type": "auth", "api_key": self.api_key}))
        answer = json.loads(self.ws.recv(timeout=5))
        assert answer["type"] == "auth_ok", answer

    def poll(self) -> list:
        r = self.http.get("/tasks/poll")
        assert r.status_code == 200, r.text
        tasks = r.json()
        assert isinstance(tasks, list)
        return tasks

    def drain(self, seconds: float) -> list[dict]:
        """Messages the hub sent us within ``seconds`` (a v1 client never said hello)."""
        got = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                got.append(json.loads(self.ws.recv(timeout=max(0.01, end - time.monotonic()))))
            except TimeoutError:
                break
        return got


def test_v1_client_runs_a_task_to_completed(hub: Hub, cli: Cli, tmp_path) -> None:
    legacy = V1Agent(hub.url)
    name = f"legacy-{int(time.time() * 1000) % 100000}"
    legacy.register(name, hub.create_token("legacy"), str(tmp_path))
    legacy.heartbeat()
    legacy.connect_ws()
    assert wait_for(lambda: hub.agent(name)["status"] == "ONLINE", 10, "the v1 agent ONLINE")

    created = cli.json("tasks", "create", "--title", "legacy work", "--spec", "do the thing",
                       "--agent", name, "--repo", "legacy")
    tasks = wait_for(lambda: [t for t in legacy.poll() if t["id"] == created["id"]], 10, "the task in /tasks/poll")
    task = tasks[0]
    assert {"id", "title", "spec", "target_repo", "status"} <= set(task)
    assert task["spec"] == "do the thing" and task["target_repo"] == "legacy"

    assert legacy.http.post(f"/tasks/{task['id']}/start", json={}).status_code == 200
    assert legacy.poll() == [] or all(t["id"] != task["id"] for t in legacy.poll())
    lines = ["hello from a v1 daemon\n", "ünïcödé line 2\n", "done\n"]
    for line in lines:
        legacy.ws.send(json.dumps({"type": "output", "task_id": task["id"], "content": line, "stream": "stdout"}))
    legacy.ws.send(json.dumps({"type": "ping"}))
    pushed = legacy.drain(1.0)
    assert {"type": "pong"} in [{"type": m.get("type")} for m in pushed], pushed
    assert all(m.get("type") in {"pong"} for m in pushed), f"the hub sent extensions to a v1 client: {pushed}"
    wait_for(lambda: hub.output(task["id"]) == "".join(lines).encode(), 10, "the v1 output stored in order")

    r = legacy.http.post(f"/tasks/{task['id']}/complete", json={"result": {"output_lines": len(lines)}})
    assert r.status_code == 200, r.text
    again = legacy.http.post(f"/tasks/{task['id']}/complete", json={"result": {"output_lines": len(lines)}})
    assert again.status_code == 200, again.text  # a retry after a lost response is safe
    done = hub.task(task["id"])
    assert done["status"] == "completed" and done["result"] == {"output_lines": 3}
    legacy.stack.close()


def test_v1_register_for_a_held_name_is_a_readable_409(hub: Hub, tmp_path) -> None:
    """A v1 body never says ``replace``: a name a live agent holds is refused with a ``detail``
    string a v1 daemon can print, and the token is left unused for another name."""
    holder = V1Agent(hub.url)
    name = f"held-{int(time.time() * 1000) % 100000}"
    holder.register(name, hub.create_token("holder"), str(tmp_path))
    holder.heartbeat()  # ONLINE
    token = hub.create_token("second")
    second = V1Agent(hub.url)
    body = {"name": name, "hostname": "other", "ip": "127.0.0.1", "os": "Linux", "repos": {},
            "system_info": {}, "registration_token": token}
    r = second.http.post("/register", json=body)
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and name in detail and "--replace" in detail
    holder.heartbeat()  # the holder's key still works
    assert second.register(f"{name}-b", token, str(tmp_path))["name"] == f"{name}-b"
