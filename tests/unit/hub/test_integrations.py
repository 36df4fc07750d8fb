"""The hub starts the webhook dispatcher when ORCHESTRATIA_WEBHOOKS is set; a delivery for a
finished task carries the admin API's task object, one for a withdrawn question the intervention."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from orchestratia.hub.app import create_app

from .conftest import LiveServer
from .helpers import Api


async def _receiver() -> tuple[asyncio.base_events.Server, int, asyncio.Queue]:
    got: asyncio.Queue = asyncio.Queue()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length"))
        await got.put(json.loads(await reader.readexactly(length)))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], got


@contextlib.asynccontextmanager
async def hooked_hub(
    settings_factory: Any, monkeypatch: pytest.MonkeyPatch, event: str
) -> AsyncIterator[tuple[Api, asyncio.Queue]]:
    """A live hub with one webhook target for ``event`` (a local receiver), and a logged-in client."""
    server, port, got = await _receiver()
    hooks = [{"url": f"http://127.0.0.1:{port}/hook", "secret": "s", "events": [event]}]
    monkeypatch.setenv("ORCHESTRATIA_WEBHOOKS", json.dumps(hooks))
    try:
        async with LiveServer(create_app(settings_factory())) as live:
            async with httpx.AsyncClient(base_url=live.url) as client:
                api = Api(client, live.hub)
                await api.login()
                yield api, got
    finally:
        server.close()


async def test_task_finished_webhook(settings_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    async with hooked_hub(settings_factory, monkeypatch, "task.finished") as (api, got):
        agent = await api.register("dev-1")
        task = await api.task(title="hooked", agent="dev-1")
        await api.agent(agent, "POST", f"/tasks/{task['id']}/fail", json={"error": "nope"})
        delivery = await asyncio.wait_for(got.get(), 10)
    assert delivery["event"] == "task.finished"
    assert delivery["data"]["id"] == task["id"] and delivery["data"]["agent"] == "dev-1"
    assert delivery["data"]["status"] == "failed" and "hooked" in delivery["text"]


async def test_withdrawn_question_webhook(settings_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent withdraws its question (POST /interventions/{id}/withdraw): targets that want
    ``intervention.withdrawn`` get the follow-up, with the admin API's intervention object."""
    async with hooked_hub(settings_factory, monkeypatch, "intervention.withdrawn") as (api, got):
        agent = await api.online("dev-1")
        task = await api.task(title="asks", agent="dev-1")
        await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
        ask = await api.agent(agent, "POST", f"/tasks/{task['id']}/help", 201, json={"question": "Deploy?"})
        await api.agent(agent, "POST", f"/interventions/{ask['id']}/withdraw")
        delivery = await asyncio.wait_for(got.get(), 10)
    assert delivery["event"] == "intervention.withdrawn"
    data = delivery["data"]
    assert data["id"] == ask["id"] and data["task_id"] == task["id"] and data["agent"] == "dev-1"
    assert data["status"] == "withdrawn" and data["withdrawn_at"] and data["question"] == "Deploy?"
    assert "asks" in delivery["text"] and "stopped waiting" in delivery["text"]
