"""ws.py against small WebSocket peers on loopback: header auth, hello, v1 fallback, resume,
pushes, auth rejection, reconnect with backoff."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.server import serve

from orchestratia.agent.ws import HubSocket, backoff_delay, ws_url
from orchestratia.protocol import WsAck, WsTaskCancel


class Recorder:
    def __init__(self) -> None:
        self.ready: list[Any] = []
        self.messages: list[Any] = []
        self.disconnects = 0
        self.event = asyncio.Event()

    def on_connected(self) -> list[dict[str, Any]]:
        return [{"task_id": "t1", "log_size": 42}]

    async def on_ready(self, resume):
        self.ready.append(resume)
        self.event.set()

    async def on_message(self, msg):
        self.messages.append(msg)
        self.event.set()

    def on_disconnected(self) -> None:
        self.disconnects += 1


async def wait(cond, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_urls_and_backoff() -> None:
    assert ws_url("https://hub.example.com/") == "wss://hub.example.com/ws/agent"
    assert ws_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/ws/agent"
    for attempt in range(10):
        d = backoff_delay(attempt, 1.0, 60.0)
        cap = min(60.0, 2.0**attempt)
        assert cap / 2 <= d <= cap


async def test_extended_hub_hello_resume_and_pushes() -> None:
    seen: dict[str, Any] = {}

    async def hub(conn):
        seen["key"] = conn.request.headers.get("X-API-Key")
        await conn.send(json.dumps({"type": "auth_ok", "agent_id": "a1"}))
        seen["hello"] = json.loads(await conn.recv())
        await conn.send(json.dumps({"type": "resume", "tasks": [{"task_id": "t1", "next_offset": 40}]}))
        await conn.send(json.dumps({"type": "ack", "task_id": "t1", "next_offset": 42}))
        await conn.send(json.dumps({"type": "brand_new", "x": 1}))  # unknown: ignored
        await conn.send("not json")  # ignored
        await conn.send(json.dumps({"type": "task_cancel", "task_id": "t1", "reason": "r"}))
        seen["out"] = json.loads(await conn.recv())
        await conn.wait_closed()

    rec = Recorder()
    async with serve(hub, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        sock = HubSocket(f"http://127.0.0.1:{port}", "orc_key", rec)
        stop = asyncio.Event()
        task = asyncio.create_task(sock.run(stop))
        await wait(lambda: len(rec.messages) >= 2)
        assert seen["key"] == "orc_key"
        assert seen["hello"]["type"] == "hello" and set(seen["hello"]["features"]) == {"offsets", "push", "binary", "workspace_actions", "output_frames"}
        assert seen["hello"]["tasks"] == [{"task_id": "t1", "log_size": 42}]
        assert rec.ready == [{"t1": 40}] and sock.extended and sock.ready
        assert isinstance(rec.messages[0], WsAck) and isinstance(rec.messages[1], WsTaskCancel)
        assert await sock.send({"type": "output", "task_id": "t1", "content": "x"})
        await wait(lambda: "out" in seen)
        stop.set()
        await asyncio.wait_for(task, 5)
    assert not sock.connected


async def test_v1_hub_without_resume_falls_back() -> None:
    async def hub(conn):
        await conn.send(json.dumps({"type": "auth_ok", "agent_id": "a1"}))
        async for _ in conn:  # ignores hello
            pass

    rec = Recorder()
    async with serve(hub, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        sock = HubSocket(f"http://127.0.0.1:{port}", "k", rec, hello_timeout=0.2)
        stop = asyncio.Event()
        task = asyncio.create_task(sock.run(stop))
        await wait(lambda: rec.ready)
        assert rec.ready == [None] and sock.ready and not sock.extended
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_auth_error_and_reconnect() -> None:
    calls = {"n": 0}

    async def hub(conn):
        calls["n"] += 1
        if calls["n"] == 1:
            await conn.send(json.dumps({"type": "auth_error", "detail": "API key revoked"}))
            await conn.close(4401, "revoked")
            return
        await conn.send(json.dumps({"type": "auth_ok", "agent_id": "a1"}))
        await conn.recv()
        await conn.send(json.dumps({"type": "resume", "tasks": []}))
        await conn.wait_closed()

    rec = Recorder()
    async with serve(hub, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        sock = HubSocket(f"http://127.0.0.1:{port}", "k", rec, backoff_base=0.05)
        stop = asyncio.Event()
        task = asyncio.create_task(sock.run(stop))
        await wait(lambda: sock.auth_rejected == "API key revoked")
        await wait(lambda: rec.ready, timeout=10)  # came back after a (short) backoff
        assert sock.auth_rejected is None and calls["n"] == 2
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_reconnects_after_the_hub_drops_the_connection() -> None:
    calls = {"n": 0}

    async def hub(conn):
        calls["n"] += 1
        await conn.send(json.dumps({"type": "auth_ok", "agent_id": "a1"}))
        await conn.recv()
        await conn.send(json.dumps({"type": "resume", "tasks": []}))
        if calls["n"] == 1:
            return  # drop it
        await conn.wait_closed()

    rec = Recorder()
    async with serve(hub, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        sock = HubSocket(f"http://127.0.0.1:{port}", "k", rec, backoff_base=0.05)
        stop = asyncio.Event()
        task = asyncio.create_task(sock.run(stop))
        await wait(lambda: len(rec.ready) == 2, timeout=10)
        assert rec.disconnects >= 1 and sock.connects == 2
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_hub_that_wants_first_message_auth() -> None:
    seen: dict[str, Any] = {}

    async def hub(conn):  # ignores the header, waits for {"type": "auth"}
        seen["auth"] = json.loads(await conn.recv())
        await conn.send(json.dumps({"type": "auth_ok", "agent_id": "a1"}))
        seen["hello"] = json.loads(await conn.recv())
        await conn.send(json.dumps({"type": "resume", "tasks": []}))
        await conn.wait_closed()

    rec = Recorder()
    async with serve(hub, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        sock = HubSocket(f"http://127.0.0.1:{port}", "orc_key", rec)
        stop = asyncio.Event()
        task = asyncio.create_task(sock.run(stop))
        await wait(lambda: rec.ready, timeout=10)
        assert seen["auth"] == {"type": "auth", "api_key": "orc_key"} and seen["hello"]["type"] == "hello"
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_output_goes_as_frames_only_when_the_hub_lists_them() -> None:
    """A hub whose ``resume`` lists ``output_frames`` gets output as binary frames (the raw log
    bytes, even bytes that are not UTF-8); a hub that does not (an older one) gets JSON."""
    from orchestratia.protocol.frames import parse_output_frame

    got: list[Any] = []

    def hub_with(features: list[str] | None):
        async def hub(conn):
            await conn.send(json.dumps({"type": "auth_ok", "agent_id": "a1"}))
            await conn.recv()  # hello
            resume: dict[str, Any] = {"type": "resume", "tasks": []}
            if features is not None:
                resume["features"] = features
            await conn.send(json.dumps(resume))
            got.append(await conn.recv())
            await conn.wait_closed()

        return hub

    for features in (["output_frames"], None):
        rec = Recorder()
        async with serve(hub_with(features), "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            sock = HubSocket(f"http://127.0.0.1:{port}", "orc_key", rec)
            stop = asyncio.Event()
            task = asyncio.create_task(sock.run(stop))
            await wait(lambda: sock.ready)
            assert await sock.send_output("t1", b"caf\xc3\xa9 \xff", 7)
            await wait(lambda: len(got) == (1 if features else 2))
            stop.set()
            await asyncio.wait_for(task, 5)
    frame = parse_output_frame(got[0])
    assert (frame.task_id, frame.offset, frame.data, frame.stream) == ("t1", 7, b"caf\xc3\xa9 \xff", "stdout")
    as_json = json.loads(got[1])
    assert as_json["type"] == "output" and as_json["encoding"] == "base64" and as_json["offset"] == 7
