"""The daemon's help relay (its real httpx hub client) against the real hub app in-process: a
help response lost on the wire makes ONE question for the human, and a question the asker gave
up on is shown to the human as withdrawn and refuses a late answer. Only the network is faulty
(a transport that drops a response after the hub handled the request)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestratia.agent.human import asker
from orchestratia.agent.human.hub_api import HttpHubHelpAPI
from orchestratia.agent.human.relay import HelpRelay

from ...helpers import ADMIN, Api, wait_for


class LosesHelpResponses(httpx.AsyncBaseTransport):
    """Forwards every request to the hub; the first ``lose`` help responses never arrive."""

    def __init__(self, inner: httpx.AsyncBaseTransport, lose: int) -> None:
        self.inner = inner
        self.lose = lose
        self.help_posts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/help"):
            self.help_posts += 1
            if self.lose:
                self.lose -= 1
                await response.aread()  # the hub has stored the question
                raise httpx.ReadError("connection reset before the response arrived", request=request)
        return response


@pytest.fixture
async def world(api: Api, app: Any) -> AsyncIterator[tuple[Api, HelpRelay, LosesHelpResponses, dict, dict]]:
    agent = await api.online("dev-1")
    task = await api.task(agent="dev-1", title="asks")
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    transport = LosesHelpResponses(httpx.ASGITransport(app=app), lose=1)
    hub_api = HttpHubHelpAPI("http://hub.test", agent["api_key"], transport=transport)
    state_dir = Path(tempfile.mkdtemp(prefix="orh-", dir="/tmp"))
    relay = HelpRelay(hub_api, state_dir, poll_interval=0.05, keepalive_interval=0.5, retry_max=0.2)
    await relay.start()
    try:
        yield api, relay, transport, agent, task
    finally:
        await relay.close()
        await hub_api.aclose()
        shutil.rmtree(state_dir, ignore_errors=True)


def _mine(items: list[dict], task_id: str) -> list[dict]:
    return [i for i in items if i["task_id"] == task_id]


async def test_a_lost_help_response_makes_one_question(world) -> None:
    api, relay, transport, _agent, task = world
    env = relay.register_task(task["id"])
    waiter = asyncio.create_task(asker.ask("Which DB?", "both installed", env=env))

    async def asked_twice() -> list[dict]:
        return transport.help_posts >= 2 and _mine(await api.admin("GET", "/interventions"), task["id"])

    listed = await wait_for(asked_twice, what="the relay's retry after the lost response")
    assert len(listed) == 1 and listed[0]["status"] == "pending", listed
    await api.admin("POST", f"/interventions/{listed[0]['id']}/answer", json={"response": "Postgres"})
    outcome = await asyncio.wait_for(waiter, 10)
    assert outcome.response == "Postgres" and outcome.intervention_id == listed[0]["id"]
    assert len(_mine(await api.admin("GET", "/interventions"), task["id"])) == 1


async def test_a_question_the_asker_gave_up_on_is_withdrawn(world) -> None:
    api, relay, transport, _agent, task = world
    transport.lose = 0
    env = relay.register_task(task["id"])
    outcome = await asyncio.wait_for(asker.ask("Deploy now?", env=env, timeout_s=0.5), 10)
    assert outcome.status == "timeout"
    (item,) = _mine(await api.admin("GET", "/interventions"), task["id"])
    assert item["status"] == "withdrawn" and item["withdrawn_at"]
    assert (await api.admin("GET", f"/tasks/{task['id']}"))["waiting_for_human"] is False
    late = await api.client.post(f"{ADMIN}/interventions/{item['id']}/answer", json={"response": "yes"},
                                 headers=api.headers)
    assert late.status_code == 409 and "stopped waiting" in late.json()["detail"]
