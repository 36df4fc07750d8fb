"""``/ws/agent`` on a real uvicorn: both auth ways, v1 and offset output, hello/resume,
pushes only after hello, replacement, limits."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ...helpers import Api, wait_for


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


async def recv(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_type(ws: ClientConnection, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        message = await recv(ws, max(0.01, deadline - loop.time()))
        if message.get("type") == kind:
            return message


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def output(api: Api, task_id: str) -> bytes:
    r = await api.client.get(f"/api/admin/tasks/{task_id}/output", headers=api.headers)
    return r.content


async def output_becomes(api: Api, task_id: str, expected: bytes) -> None:
    """Output is written asynchronously (in bursts): wait for it, with a deadline."""

    async def check() -> bool:
        return await output(api, task_id) == expected

    await wait_for(check, what=f"output == {expected!r}")


@pytest.fixture
async def setup(live) -> tuple[Any, dict, dict]:
    agent = await live.api.register("dev-1")
    task = await live.api.task(agent="dev-1")
    await live.api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
    return live, agent, task


async def test_header_auth_and_v1_output(setup) -> None:
    live, agent, task = setup
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
        assert await recv(ws) == {"type": "auth_ok", "agent_id": agent["id"]}
        await send(ws, {"type": "output", "task_id": task["id"], "content": "héllo\n", "stream": "stdout"})
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}  # no ack: this connection did not say hello
    await output_becomes(live.api, task["id"], "héllo\n".encode())
    shown = await live.api.admin("GET", f"/tasks/{task['id']}")
    assert shown["output_size"] == len("héllo\n".encode())


async def test_first_message_auth(setup) -> None:
    live, agent, _task = setup
    async with connect(live.ws_url + "/ws/agent") as ws:
        await send(ws, {"type": "auth", "api_key": agent["api_key"]})
        assert (await recv(ws))["type"] == "auth_ok"
    async with connect(live.ws_url + "/ws/agent") as ws:
        await send(ws, {"type": "auth", "api_key": "orc_wrong"})
        reply = await recv(ws)
        assert reply["type"] == "auth_error" and "unknown" in reply["detail"]
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws)
        assert info.value.rcvd.code == 4401
    async with connect(live.ws_url + "/ws/agent", additional_headers={"X-API-Key": "orc_bad"}) as ws:
        assert (await recv(ws))["type"] == "auth_error"
        with pytest.raises(ConnectionClosed) as info:
            await recv(ws)
        assert info.value.rcvd.code == 4401


async def test_unauthenticated_connection_is_closed(settings_factory) -> None:
    from orchestratia.hub.app import create_app

    from ...conftest import LiveServer

    async with LiveServer(create_app(settings_factory(ws_auth_timeout_s=0.3))) as server:
        async with connect(server.ws_url + "/ws/agent") as ws:
            assert (await recv(ws))["type"] == "auth_error"
            with pytest.raises(ConnectionClosed) as info:
                await recv(ws)
            assert info.value.rcvd.code == 4401


async def test_offsets_duplicate_gap_ack_and_resume(setup) -> None:
    live, agent, task = setup
    tid = task["id"]
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
        await recv(ws)
        await send(ws, {"type": "hello", "agent_version": "t", "features": ["offsets", "push", "binary"], "tasks": []})
        resume = await recv_type(ws, "resume")
        assert resume["tasks"] == [{"task_id": tid, "next_offset": 0}]
        await send(ws, {"type": "output", "task_id": tid, "content": "abc", "stream": "stdout", "offset": 0, "length": 3})
        assert await recv_type(ws, "ack") == {"type": "ack", "task_id": tid, "next_offset": 3}
        await send(ws, {"type": "output", "task_id": tid, "content": "abc", "stream": "stdout", "offset": 0, "length": 3})
        assert (await recv_type(ws, "ack"))["next_offset"] == 3  # duplicate dropped
        await send(ws, {"type": "output", "task_id": tid, "content": "xyz", "stream": "stdout", "offset": 10, "length": 3})
        assert await recv_type(ws, "resend") == {"type": "resend", "task_id": tid, "from_offset": 3}
        raw = b"\xff\xfe"
        await send(ws, {"type": "output", "task_id": tid, "content": base64.b64encode(raw).decode(), "stream": "stderr",
                        "offset": 3, "length": 2, "encoding": "base64"})
        assert (await recv_type(ws, "ack"))["next_offset"] == 5
    await output_becomes(live.api, tid, b"abc\xff\xfe")
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
        await recv(ws)
        await send(ws, {"type": "hello", "features": ["offsets"], "tasks": [{"task_id": tid, "log_size": 9}]})
        assert (await recv_type(ws, "resume"))["tasks"] == [{"task_id": tid, "next_offset": 5}]


async def test_a_task_reaches_its_agent_with_its_create_not_a_scheduler_pass(live) -> None:
    """The push of a task created for an agent with room (and of a reply to it) goes out with
    the create's commit: with the scheduler loop stopped, the daemon still gets both at once."""
    agent = await live.api.register("dev-1")
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
        await recv(ws)
        await send(ws, {"type": "hello", "features": ["push"], "tasks": []})
        await recv_type(ws, "resume")
        await live.api.hub.scheduler.stop()
        task = await live.api.task(agent="dev-1")
        assert (await recv_type(ws, "task_assigned", timeout=5))["task"]["id"] == task["id"]
        await live.api.agent(agent, "POST", f"/tasks/{task['id']}/start", json={})
        await live.api.agent(agent, "POST", f"/tasks/{task['id']}/complete", json={"result": {}})
        reply = await live.api.admin("POST", f"/tasks/{task['id']}/replies", 201, json={"message": "and now the tests"})
        pushed = (await recv_type(ws, "task_assigned", timeout=5))["task"]
        assert pushed["id"] == reply["id"] and pushed["spec"] == "and now the tests"


async def test_output_for_another_agents_task_is_dropped(setup) -> None:
    live, _agent, task = setup
    other = await live.api.register("other")
    async with connect(live.ws_url + "/ws/agent", additional_headers=other["headers"]) as ws:
        await recv(ws)
        await send(ws, {"type": "output", "task_id": task["id"], "content": "evil", "stream": "stdout"})
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}
    assert await output(live.api, task["id"]) == b""


async def test_push_only_after_hello(live) -> None:
    agent = await live.api.register("dev-1")
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
        await recv(ws)
        first = await live.api.task(agent="dev-1")
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}  # nothing pushed before hello
        await send(ws, {"type": "hello", "features": ["push"], "tasks": []})
        await recv_type(ws, "resume")
        pushed = await recv_type(ws, "task_assigned")
        assert pushed["task"]["id"] == first["id"] and pushed["task"]["spec"] == "echo hi"
        second = await live.api.task(agent="dev-1")
        assert (await recv_type(ws, "task_assigned"))["task"]["id"] == second["id"]
        third = await live.api.task(agent="dev-1")  # no room (2): not pushed yet
        await live.api.agent(agent, "POST", f"/tasks/{first['id']}/start", json={})
        await live.api.agent(agent, "POST", f"/tasks/{first['id']}/complete", json={"result": {}})
        assert (await recv_type(ws, "task_assigned"))["task"]["id"] == third["id"]
        await live.api.agent(agent, "POST", f"/tasks/{second['id']}/start", json={})
        await live.api.admin("POST", f"/tasks/{second['id']}/cancel", json={"reason": "stop"})
        cancel = await recv_type(ws, "task_cancel")
        assert cancel == {"type": "task_cancel", "task_id": second["id"], "reason": "stop"}


async def test_intervention_answer_is_pushed(setup) -> None:
    live, agent, task = setup
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
        await recv(ws)
        await send(ws, {"type": "hello", "features": ["push"], "tasks": []})
        await recv_type(ws, "resume")
        ask = await live.api.agent(agent, "POST", f"/tasks/{task['id']}/help", 201, json={"question": "ok?"})
        await live.api.admin("POST", f"/interventions/{ask['id']}/answer", json={"response": "yes"})
        got = await recv_type(ws, "intervention_answered")
        assert got == {"type": "intervention_answered", "intervention_id": ask["id"], "task_id": task["id"], "response": "yes"}


async def test_new_connection_replaces_old(setup) -> None:
    live, agent, _task = setup
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as old:
        await recv(old)
        async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as new:
            await recv(new)
            with pytest.raises(ConnectionClosed):
                await recv(old)
            await send(new, {"type": "ping"})
            assert await recv(new) == {"type": "pong"}


async def test_limits_and_bad_messages(setup) -> None:
    live, agent, task = setup
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"], max_size=None) as ws:
        await recv(ws)
        await send(ws, {"type": "output", "task_id": task["id"], "content": "kept", "stream": "stdout"})
        await ws.send(json.dumps({"type": "output", "task_id": task["id"], "content": "x" * (1024 * 1024 + 10)}))
        reply = await recv(ws)
        assert reply["type"] == "error" and "limit" in reply["detail"]
        await send(ws, {"type": "nonsense"})
        assert (await recv(ws))["type"] == "error"
        await send(ws, {"type": "output", "task_id": task["id"], "content": "!!", "encoding": "base64", "offset": 0, "length": 1})
        assert (await recv(ws))["type"] == "error"
        for _ in range(5):
            await ws.send("{not json")
        with pytest.raises(ConnectionClosed):
            for _ in range(10):
                await recv(ws)
    await output_becomes(live.api, task["id"], b"kept")
    r = await live.api.client.get("/health")
    assert r.status_code == 200


async def test_ws_contact_marks_online(live) -> None:
    agent = await live.api.register("ws-only")  # registered, never seen: OFFLINE
    assert (await live.api.admin("GET", "/agents/ws-only"))["status"] == "OFFLINE"
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
        await recv(ws)

        async def online() -> bool:
            return (await live.api.admin("GET", "/agents/ws-only"))["status"] == "ONLINE"

        await wait_for(online, what="agent ONLINE")


async def test_revoking_the_agent_closes_its_socket(setup) -> None:
    live, agent, _task = setup
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
        await recv(ws)
        await live.api.admin("POST", f"/agents/{agent['id']}/revoke")
        with pytest.raises(ConnectionClosed) as info:
            for _ in range(5):
                await recv(ws)
        assert info.value.rcvd.code == 4401


async def test_burst_is_stored_byte_exact_with_one_resend_per_gap(setup) -> None:
    live, agent, task = setup
    tid = task["id"]
    chunks = [f"{i:04d} ✓ line\n".encode() for i in range(300)]
    offsets = [sum(len(c) for c in chunks[:i]) for i in range(len(chunks))]
    total = offsets[-1] + len(chunks[-1])
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
        await recv(ws)
        await send(ws, {"type": "hello", "features": ["offsets"], "tasks": []})
        await recv_type(ws, "resume")
        for i, chunk in enumerate(chunks):
            if i in (100, 101, 102):
                continue  # lost on the way: 103.. are gaps
            await send(ws, {"type": "output", "task_id": tid, "content": chunk.decode(), "stream": "stdout",
                            "offset": offsets[i], "length": len(chunk)})
        resend = await recv_type(ws, "resend")
        assert resend["from_offset"] == offsets[100]
        for i in range(100, 300):  # the agent resends from there
            await send(ws, {"type": "output", "task_id": tid, "content": chunks[i].decode(), "stream": "stdout",
                            "offset": offsets[i], "length": len(chunks[i])})
        acked = 0
        while acked < total:
            message = await recv(ws)
            assert message["type"] in ("ack", "resend")
            if message["type"] == "ack":
                assert message["next_offset"] >= acked
                acked = message["next_offset"]
    assert await output(live.api, tid) == b"".join(chunks)


async def test_first_message_must_be_auth(setup) -> None:
    live, _agent, _task = setup
    for first in ("{not json", json.dumps({"type": "ping"})):
        async with connect(live.ws_url + "/ws/agent") as ws:
            await ws.send(first)
            assert (await recv(ws))["type"] == "auth_error"
            with pytest.raises(ConnectionClosed) as info:
                await recv(ws)
            assert info.value.rcvd.code == 4401


async def test_workspace_action_only_to_a_connection_that_said_it_reads_it(setup) -> None:
    """An older daemon's socket (hello without ``workspace_actions``) never gets the push; ours does."""
    live, agent, task = setup
    branch = {"kind": "worktree", "branch": "orchestratia/abcd1234-x", "files": [], "diff": ""}
    await live.api.agent(agent, "POST", f"/tasks/{task['id']}/workspace", json=branch)
    await live.api.agent(agent, "POST", f"/tasks/{task['id']}/complete", json={"result": {}})
    await live.api.agent(agent, "POST", "/capabilities", json={"features": ["workspace_actions"]})
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
        await recv(ws)
        await send(ws, {"type": "hello", "features": ["push"], "tasks": []})
        await recv_type(ws, "resume")
        first = await live.api.admin("POST", f"/tasks/{task['id']}/push", 202, json={})
        await send(ws, {"type": "ping"})
        assert await recv(ws) == {"type": "pong"}  # the push was published before: not sent here
        await live.api.agent(agent, "POST", f"/workspace-actions/{first['workspace_action']['id']}",
                             json={"ok": True})
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
        await recv(ws)
        await send(ws, {"type": "hello", "features": ["push", "workspace_actions"], "tasks": []})
        await recv_type(ws, "resume")
        second = await live.api.admin("POST", f"/tasks/{task['id']}/push", 202, json={"pr": True})
        got = await recv_type(ws, "workspace_action")
        assert got["action"]["id"] == second["workspace_action"]["id"] and got["action"]["pr"] is True


async def test_output_frames_negotiated_stored_and_checked(setup) -> None:
    """A daemon that lists ``output_frames`` in ``hello`` gets it back in ``resume`` and may send
    output as binary frames: stored byte for byte under the offset rules (ack, resend), a
    malformed frame answered with an error naming the fault. A connection that did not
    negotiate them gets a binary frame treated as the JSON it is not: nothing stored."""
    from orchestratia.protocol.frames import encode_output_frame

    live, agent, task = setup
    tid = task["id"]
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
        await recv(ws)
        await send(ws, {"type": "hello", "features": ["offsets", "output_frames"], "tasks": []})
        assert (await recv_type(ws, "resume"))["features"] == ["output_frames"]
        await ws.send(encode_output_frame(tid, b"caf\xc3\xa9\xff", 0, "stderr"))
        assert await recv_type(ws, "ack") == {"type": "ack", "task_id": tid, "next_offset": 6}
        await ws.send(encode_output_frame(tid, b"later", 20))
        assert await recv_type(ws, "resend") == {"type": "resend", "task_id": tid, "from_offset": 6}
        await ws.send(encode_output_frame(tid, b"x", 6)[:11])  # cut inside the header
        assert "invalid output frame" in (await recv_type(ws, "error"))["detail"]
    await output_becomes(live.api, tid, b"caf\xc3\xa9\xff")
    async with connect(live.ws_url + "/ws/agent", additional_headers=agent["headers"]) as ws:
        await recv(ws)
        await send(ws, {"type": "hello", "features": ["offsets"], "tasks": []})
        assert "features" not in await recv_type(ws, "resume")
        await ws.send(encode_output_frame(tid, b"not negotiated", 6))
        assert (await recv_type(ws, "error"))["detail"] == "invalid JSON: message ignored"
    assert await output(live.api, tid) == b"caf\xc3\xa9\xff"
