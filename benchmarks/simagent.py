"""A light agent written from PROTOCOL.md, for measuring the hub alone: a v1 poller (what the
deployed daemons do) or a push client (WebSocket + ``hello``), starting and completing every task
it gets at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket

import httpx
import websockets

from .common import Hub, create_token


def register(hub: Hub, name: str) -> str:
    with hub.admin() as admin:
        token = create_token(admin, name)
    r = httpx.post(
        hub.url + "/api/v1/agents/register",
        json={"name": name, "hostname": socket.gethostname(), "ip": "127.0.0.1", "os": "Linux", "repos": {},
              "system_info": {}, "registration_token": token, "runners": ["shell", "claude"],
              "max_concurrent_tasks": 1000},
        timeout=30,
    )
    r.raise_for_status()
    return r.json()["api_key"]


class SimAgent:
    def __init__(self, hub: Hub, name: str):
        self.hub, self.name = hub, name
        self.key = register(hub, name)
        self.started: list[str] = []
        self._seen: set[str] = set()

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.hub.url + "/api/v1/agents", headers={"X-API-Key": self.key}, timeout=30)

    async def _run_task(self, client: httpx.AsyncClient, task: dict) -> None:
        if task["id"] in self._seen:
            return
        self._seen.add(task["id"])
        r = await client.post(f"/tasks/{task['id']}/start", json={})
        r.raise_for_status()
        self.started.append(task["id"])
        r = await client.post(f"/tasks/{task['id']}/complete", json={"result": {"output_lines": 0}})
        r.raise_for_status()

    async def poll_loop(self, interval: float, stop: asyncio.Event) -> None:
        """The deployed daemons' loop: every ``interval`` s, poll and start what comes back."""
        async with self._client() as client:
            await asyncio.sleep(random.uniform(0, interval))
            while not stop.is_set():
                r = await client.get("/tasks/poll")
                r.raise_for_status()
                for task in r.json():
                    await self._run_task(client, task)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)

    async def push_loop(self, stop: asyncio.Event, connected: asyncio.Event) -> None:
        async with self._client() as client, websockets.connect(
            self.hub.ws_url, additional_headers={"X-API-Key": self.key}
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "auth_ok"
            await ws.send(json.dumps({"type": "hello", "agent_version": "bench", "features": ["offsets", "push"],
                                      "tasks": []}))
            connected.set()
            while not stop.is_set():
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except asyncio.TimeoutError:
                    continue
                if msg.get("type") == "task_assigned":
                    await self._run_task(client, msg["task"])
