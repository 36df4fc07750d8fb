"""SSE: a task's output replayed then tailed live (no gap, no duplicate), and /events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from orchestratia.hub.task_output import append_output

from ...helpers import ADMIN


class SseReader:
    """Events from one streamed response (one line iterator for its whole life)."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        async def run() -> dict[str, Any]:
            current: dict[str, Any] = {}
            async for line in self.lines:
                if line.startswith(":"):
                    continue
                if not line:
                    if current:
                        return current
                    continue
                field, _, value = line.partition(": ")
                current[field] = json.loads(value) if field == "data" else value
            raise AssertionError("stream ended")

        return await asyncio.wait_for(run(), timeout)

    async def until(self, kind: str) -> list[dict[str, Any]]:
        events = [await self.next()]
        while events[-1]["event"] != kind:
            events.append(await self.next())
        return events


async def test_replay_then_live_tail_then_end(live) -> None:
    api, hub = live.api, live.hub
    agent = await api.register("dev-1")
    task = await api.task(agent="dev-1")
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    await append_output(hub.store, agent["id"], task["id"], b"one\n", offset=0)
    await append_output(hub.store, agent["id"], task["id"], b"two\n", offset=4)
    url = f"{ADMIN}/tasks/{task['id']}/stream?offset=2"
    async with api.client.stream("GET", url, headers=api.headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        sse = SseReader(response)
        status = await sse.next()
        assert status["event"] == "status" and status["data"]["status"] == "running"
        events = [await sse.next() for _ in range(2)]
        assert [(e["event"], e["id"], e["data"]["text"]) for e in events] == [("output", "4", "e\n"), ("output", "8", "two\n")]
        await append_output(hub.store, agent["id"], task["id"], b"three\n", offset=8)
        live_event = await sse.next()
        assert (live_event["id"], live_event["data"]) == ("14", {"offset": 8, "length": 6, "stream": "stdout", "text": "three\n"})
        await api.agent(agent, "POST", f"/tasks/{task['id']}/complete", json={"result": {"exit_code": 0}})
        rest = await sse.until("end")
    assert [e["event"] for e in rest][-1] == "end"
    assert rest[-1]["data"]["status"] == "completed" and rest[-1]["id"] == "14"
    assert not [e for e in rest if e["event"] == "output"]  # nothing twice


async def test_last_event_id_resumes_and_final_task_ends(live) -> None:
    api, hub = live.api, live.hub
    agent = await api.register("dev-1")
    task = await api.task(agent="dev-1")
    await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    for i in range(3):
        await append_output(hub.store, agent["id"], task["id"], f"line {i}\n".encode(), offset=i * 7)
    await api.agent(agent, "POST", f"/tasks/{task['id']}/fail", json={"error": "x"})
    headers = {**api.headers, "Last-Event-ID": "7"}
    async with api.client.stream("GET", f"{ADMIN}/tasks/{task['id']}/stream", headers=headers) as response:
        events = await SseReader(response).until("end")
    outputs = [e for e in events if e["event"] == "output"]
    assert "".join(e["data"]["text"] for e in outputs) == "line 1\nline 2\n"
    assert events[-1]["event"] == "end" and events[-1]["data"]["status"] == "failed"


async def test_stream_of_unknown_task_is_404(live) -> None:
    r = await live.api.client.get(f"{ADMIN}/tasks/00000000-0000-0000-0000-000000000000/stream", headers=live.api.headers)
    assert r.status_code == 404


async def test_hub_events(live) -> None:
    api = live.api
    async with api.client.stream("GET", f"{ADMIN}/events", headers=api.headers) as response:
        lines = response.aiter_lines()
        assert await asyncio.wait_for(lines.__anext__(), 10) == ": connected"
        task = await api.task(title="watch me", target_repo="nowhere")
        current: dict[str, Any] = {}
        async for line in lines:
            if not line and current:
                break
            if line and not line.startswith(":"):
                field, _, value = line.partition(": ")
                current[field] = json.loads(value) if field == "data" else value
        assert current["event"] == "task"
        assert current["data"]["id"] == task["id"] and current["data"]["status"] == "queued"


async def test_a_closed_stream_unsubscribes(live) -> None:
    api, hub = live.api, live.hub
    agent = await api.register("dev-1")
    task = await api.task(agent="dev-1")
    channel = f"task:{task['id']}"
    async with api.client.stream("GET", f"{ADMIN}/tasks/{task['id']}/stream", headers=api.headers) as response:
        assert (await SseReader(response).next())["event"] == "status"
        assert hub.bus.subscriber_count(channel) == 1
    _ = agent

    async def gone() -> bool:
        return hub.bus.subscriber_count(channel) == 0

    from ...helpers import wait_for

    await wait_for(gone, what="the stream's subscription to end")


async def test_sigterm_ends_open_streams_so_the_server_stops(tmp_path, python_exe) -> None:
    """An open SSE stream must not keep ``uvicorn`` (``hub serve``) from exiting on SIGTERM."""
    import os
    import signal
    import socket
    import subprocess

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "ORCHESTRATIA_DATA_DIR": str(tmp_path), "ORCHESTRATIA_ADMIN_PASSWORD": "pw",
           "ORCHESTRATIA_ARGON2_TIME_COST": "1", "ORCHESTRATIA_ARGON2_MEMORY_KIB": "8192"}
    args = [python_exe, "-m", "uvicorn", "--factory", "orchestratia.hub.app:app_factory", "--port", str(port)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            from ...helpers import wait_for

            async def up() -> bool:
                try:
                    return (await client.get("/health")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(up, timeout=30, what="the hub to start")
            r = await client.post(f"{ADMIN}/login", json={"username": "admin", "password": "pw"})
            headers = {"Authorization": f"Bearer {r.json()['token']}"}
            async with client.stream("GET", f"{ADMIN}/events", headers=headers) as response:
                assert await asyncio.wait_for(response.aiter_lines().__anext__(), 10) == ": connected"
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(asyncio.to_thread(proc.wait), 15)
        assert proc.returncode is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def _stream_ends(lines: Any) -> list[str]:
    """Every line until the server ends the stream (the test's deadline is the caller's)."""
    return [line async for line in lines]


@pytest.mark.parametrize("how", ["logout", "expiry"])
async def test_streams_end_when_the_session_ends(settings_factory, how) -> None:
    """/events and a task's /stream check the admin session again while they run (every
    keep-alive period): a logout or an expired session ends them, even a busy task stream."""
    from sqlalchemy import update

    from orchestratia.hub.app import create_app
    from orchestratia.hub.auth import hash_secret
    from orchestratia.hub.store.models import AdminSession, utcnow

    from ...conftest import LiveServer
    from ...helpers import ADMIN_PASSWORD, Api

    application = create_app(settings_factory(sse_keepalive_s=0.2))
    async with LiveServer(application) as server, httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        hub = application.state.hub
        api = Api(client, hub)
        await api.login()
        agent = await api.register("dev-1")
        task = await api.task(agent="dev-1")
        await api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
        r = await client.post(f"{ADMIN}/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        viewer = {"Authorization": f"Bearer {r.json()['token']}"}
        async with client.stream("GET", f"{ADMIN}/events", headers=viewer) as events, \
                client.stream("GET", f"{ADMIN}/tasks/{task['id']}/stream", headers=viewer) as output:
            task_sse = SseReader(output)
            assert (await task_sse.next())["event"] == "status"
            await append_output(hub.store, agent["id"], task["id"], b"x\n", offset=0)
            assert (await task_sse.next())["event"] == "output"
            if how == "logout":
                assert (await client.post(f"{ADMIN}/logout", headers=viewer)).status_code == 204
            else:
                async with hub.store.write() as session:
                    await session.execute(update(AdminSession).where(
                        AdminSession.token_hash == hash_secret(viewer["Authorization"].split()[1])
                    ).values(expires_at=utcnow()))

            async def busy() -> None:  # output keeps coming: the stream never idles into a keep-alive
                offset = 2
                while True:
                    await append_output(hub.store, agent["id"], task["id"], b"y\n", offset=offset)
                    offset += 2
                    await asyncio.sleep(0.02)

            feeder = asyncio.create_task(busy())
            try:
                rest = await asyncio.wait_for(_stream_ends(events.aiter_lines()), 20)
                assert rest[-2:] == [": session ended", ""]
                tail = await asyncio.wait_for(_stream_ends(task_sse.lines), 20)
                assert ": session ended" in tail
            finally:
                feeder.cancel()
        r = await client.get(f"{ADMIN}/events", headers=viewer)
        assert r.status_code == 401
        # the session that did not end keeps streaming
        async with client.stream("GET", f"{ADMIN}/tasks/{task['id']}/stream", headers=api.headers) as response:
            assert (await SseReader(response).next())["event"] == "status"
