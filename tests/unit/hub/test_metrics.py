"""``GET /metrics``: a task that ran through the hub is counted (status, output bytes, dispatch
and run histograms, the route it used), two hubs in one process count apart, the settings turn
it off (404) or put it behind a token, and no secret or task content is exposed."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from orchestratia.hub.app import create_app
from orchestratia.hub.events.in_process import InProcessBus

from .helpers import V1, Api, wait_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    r = await client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


@pytest.fixture
async def served(settings_factory) -> AsyncIterator[Any]:
    from .conftest import LiveServer

    application = create_app(settings_factory())
    async with LiveServer(application) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            server.api = Api(client, application.state.hub)
            await server.api.login()
            yield server


async def test_a_task_run_through_the_hub_is_counted(served) -> None:
    api: Api = served.api
    agent = await api.online("dev-1")
    spec = "echo the-task-spec-stays-private"
    task = await api.task(agent="dev-1", spec=spec)
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    content = b"private output line\n" * 50
    async with connect(served.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
        assert json.loads(await ws.recv())["type"] == "auth_ok"
        await ws.send(json.dumps({"type": "hello", "agent_version": "t", "features": ["offsets"], "tasks": []}))
        await ws.send(json.dumps({"type": "output", "task_id": task["id"], "offset": 0, "length": len(content),
                                  "content": base64.b64encode(content).decode(), "encoding": "base64"}))

        async def stored() -> bool:
            return (await api.admin("GET", f"/tasks/{task['id']}"))["output_size"] == len(content)

        await wait_for(stored, what="the output stored")
        during = await scrape(api.client)
        assert value(during, "orchestratia_websocket_connections") == 1
    await api.agent(agent, "POST", f"/tasks/{task['id']}/complete", json={"result": {"ok": True}})

    async def counted() -> Samples | None:  # the store gauges are cached for ~1.5 s
        samples = await scrape(api.client)
        return samples if value(samples, "orchestratia_tasks", status="completed") == 1 else None

    samples = await wait_for(counted, what="the completed task counted")
    assert value(samples, "orchestratia_tasks", status="running") == 0
    assert value(samples, "orchestratia_agents", status="ONLINE") == 1
    assert value(samples, "orchestratia_output_bytes_total") == len(content)
    assert value(samples, "orchestratia_dispatch_latency_seconds_count") == 1
    assert value(samples, "orchestratia_task_run_duration_seconds_count", status="completed") == 1
    assert value(samples, "orchestratia_http_requests_total", route=f"{V1}/tasks/{{task_id}}/start",
                 method="POST", status="200") == 1
    text = (await api.client.get("/metrics")).text
    for private in (task["id"], spec, "private output", agent["api_key"], agent["id"], api.headers["Authorization"][7:]):
        assert private not in text, private


async def test_queue_length_and_age(api: Api) -> None:
    await api.task(title="nobody can take it", target_repo="no-such-repo")

    async def queued() -> Samples | None:
        samples = await scrape(api.client)
        return samples if value(samples, "orchestratia_queue_length") == 1 else None

    samples = await wait_for(queued, what="the queued task counted")
    assert value(samples, "orchestratia_tasks", status="queued") == 1
    assert (value(samples, "orchestratia_queue_oldest_age_seconds") or -1) >= 0


async def test_routes_are_templates_and_bounded(api: Api) -> None:
    for i in range(5):
        await api.client.get(f"/api/admin/tasks/00000000-0000-4000-8000-00000000000{i}", headers=api.headers)
        await api.client.get(f"/no/such/page/{i}")
    samples = await scrape(api.client)
    routes = {dict(labels).get("route") for name, labels in samples if name == "orchestratia_http_requests_total"}
    assert value(samples, "orchestratia_http_requests_total", route="/api/admin/tasks/{task_id}",
                 method="GET", status="404") == 5
    assert value(samples, "orchestratia_http_requests_total", route="unmatched", method="GET", status="404") == 5
    assert not [r for r in routes if r and ("0000" in r or "/no/such" in r)], routes


async def test_two_hubs_in_one_process_count_apart(settings_factory, tmp_path) -> None:
    apps = [create_app(settings_factory(data_dir=tmp_path / name)) for name in ("a", "b")]
    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://hub.test") for a in apps]
        async with clients[0], clients[1]:
            for _ in range(3):
                await clients[0].get("/healthz")
            first, second = await scrape(clients[0]), await scrape(clients[1])
    healthz = {"route": "/healthz", "method": "GET", "status": "200"}
    assert value(first, "orchestratia_http_requests_total", **healthz) == 3
    assert value(second, "orchestratia_http_requests_total", **healthz) is None
    assert apps[0].state.hub.metrics.registry is not apps[1].state.hub.metrics.registry


async def test_metrics_can_be_turned_off(settings_factory) -> None:
    application = create_app(settings_factory(metrics_enabled=False))
    async with application.router.lifespan_context(application):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://hub.test") as c:
            assert (await c.get("/metrics")).status_code == 404


async def test_metrics_behind_a_token(settings_factory) -> None:
    token = "metrics-scrape-token-0123456789"
    application = create_app(settings_factory(metrics_token=token))
    async with application.router.lifespan_context(application):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://hub.test") as c:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
                r = await c.get("/metrics", headers=headers)
                assert r.status_code == 401 and "ORCHESTRATIA_METRICS_TOKEN" in r.json()["detail"], r.text
                assert token not in r.text
            samples = await scrape(c, Authorization=f"Bearer {token}")
            assert value(samples, "orchestratia_hub_info", version=pytest.importorskip("orchestratia").__version__) == 1


class _BrokenBus(InProcessBus):
    """A bus whose publishes fail (Redis gone): the hub goes on, the failures are counted."""

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        raise ConnectionError("the bus is down")


async def test_bus_errors_are_counted(settings_factory) -> None:
    application = create_app(settings_factory(), bus=_BrokenBus())
    async with application.router.lifespan_context(application):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://hub.test") as c:
            api = Api(c, application.state.hub)
            await api.login()
            await api.task(title="announced on a dead bus", target_repo="nowhere")
            samples = await scrape(c)
    assert (value(samples, "orchestratia_bus_errors_total") or 0) >= 1
    assert value(samples, "orchestratia_store_errors_total", operation="write") == 0
