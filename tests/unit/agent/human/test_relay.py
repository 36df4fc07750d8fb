"""The help relay on a real Unix socket, with the asker client, against a fake hub boundary."""

from __future__ import annotations

import asyncio
import json
import os
import stat

from orchestratia.agent.human import asker, wire
from orchestratia.agent.human.relay import HelpRelay

from .human_fakes import FakeHub, wait_until


async def _ask(env, question="What now?", **kw):
    return await asker.ask(question, kw.pop("context", None), env=env, **kw)


async def test_socket_is_private_and_env_has_no_api_key(relay: HelpRelay) -> None:
    mode = stat.S_IMODE(os.stat(relay.socket_path).st_mode)
    assert mode == 0o600
    env = relay.register_task("t1")
    assert set(env) == {wire.ENV_TASK_ID, wire.ENV_TASK_CREDENTIAL, wire.ENV_SOCKET}
    assert env[wire.ENV_TASK_ID] == "t1" and not env[wire.ENV_TASK_CREDENTIAL].startswith("orc_")
    state_file = relay.state_dir / "task-t1.help.json"
    assert stat.S_IMODE(os.stat(state_file).st_mode) == 0o600
    assert env[wire.ENV_TASK_CREDENTIAL] not in state_file.read_text()


async def test_answer_by_push(relay: HelpRelay, hub: FakeHub) -> None:
    env = relay.register_task("t1")
    progress: list[dict] = []
    waiter = asyncio.create_task(_ask(env, "Which DB?", context="tried both", on_progress=progress.append))
    iid = await wait_until(lambda: hub.interventions and hub.only_pending(), what="intervention")
    assert hub.help_calls == [("t1", "Which DB?", "tried both")]
    await wait_until(lambda: any(p["type"] == "accepted" for p in progress), what="accepted")
    relay.poll_interval = 3600  # only the push can answer now
    hub.answer(iid, "PostgreSQL")
    assert relay.notify_answered(iid, "PostgreSQL", "t1")
    outcome = await asyncio.wait_for(waiter, 5)
    assert outcome.answered and outcome.response == "PostgreSQL" and outcome.intervention_id == iid


async def test_answer_by_polling_and_keepalives(relay: HelpRelay, hub: FakeHub) -> None:
    env = relay.register_task("t1")
    progress: list[dict] = []
    waiter = asyncio.create_task(_ask(env, on_progress=progress.append))
    iid = await wait_until(lambda: hub.interventions and hub.only_pending())
    await wait_until(lambda: any(p["type"] == "keepalive" for p in progress), what="a keepalive")
    hub.answer(iid, "yes, go")
    outcome = await asyncio.wait_for(waiter, 5)
    assert outcome.response == "yes, go"


async def test_first_answer_wins(relay: HelpRelay, hub: FakeHub) -> None:
    env = relay.register_task("t1")
    waiter = asyncio.create_task(_ask(env, request_id="req-1"))
    iid = await wait_until(lambda: hub.interventions and hub.only_pending())
    assert relay.notify_answered(iid, "first")
    assert not relay.notify_answered(iid, "second")
    assert (await asyncio.wait_for(waiter, 5)).response == "first"
    hub.answer(iid, "third, via the hub")  # the hub says something else now: too late
    again = await asyncio.wait_for(_ask(env, request_id="req-1"), 5)  # what an asker reconnecting gets
    assert again.response == "first" and relay.pending("t1") == []


async def test_reconnect_same_request_id_never_asks_twice(relay: HelpRelay, hub: FakeHub) -> None:
    env = relay.register_task("t1")
    first = asyncio.create_task(_ask(env, request_id="req-1"))
    iid = await wait_until(lambda: hub.interventions and hub.only_pending())
    progress: list[dict] = []
    second = asyncio.create_task(_ask(env, "asked again", request_id="req-1", on_progress=progress.append))
    await wait_until(lambda: any(p["type"] == "accepted" for p in progress), what="the second asker joining")
    first.cancel()  # the first asker dies
    hub.answer(iid, "42")
    assert (await asyncio.wait_for(second, 5)).response == "42"
    assert len(hub.help_calls) == 1
    third = await asyncio.wait_for(_ask(env, request_id="req-1"), 5)  # after the answer
    assert third.response == "42" and len(hub.help_calls) == 1


async def test_daemon_restart_resumes_the_question(hub: FakeHub, short_dir) -> None:
    relay1 = HelpRelay(hub, short_dir, poll_interval=0.05, keepalive_interval=0.2)
    await relay1.start()
    env = relay1.register_task("t1")
    progress: list[dict] = []
    waiter = asyncio.create_task(_ask(env, request_id="r1", on_progress=progress.append))
    iid = await wait_until(lambda: hub.interventions and hub.only_pending())
    await relay1.close()  # daemon stops; the asker keeps retrying
    await wait_until(lambda: any(p["type"] == "reconnecting" for p in progress), what="reconnecting")
    hub.answer(iid, "answered while the daemon was down")
    relay2 = HelpRelay(hub, short_dir, poll_interval=0.05, keepalive_interval=0.2)
    await relay2.start()
    try:
        outcome = await asyncio.wait_for(waiter, 10)
        assert outcome.response == "answered while the daemon was down"
        assert len(hub.help_calls) == 1
    finally:
        await relay2.close()


async def test_hub_down_then_up(relay: HelpRelay, hub: FakeHub) -> None:
    env = relay.register_task("t1")
    hub.down = True
    waiter = asyncio.create_task(_ask(env))
    await wait_until(lambda: hub.help_attempts >= 2, what="the help request retried while the hub is down")
    assert not hub.help_calls and not waiter.done()
    hub.down = False
    iid = await wait_until(lambda: hub.interventions and hub.only_pending(), what="retry after outage")
    hub.down = True  # outage while polling
    polls = hub.get_calls  # every poll from now on fails
    await wait_until(lambda: hub.get_calls >= polls + 2, what="polls failing during the outage")
    assert not waiter.done()
    hub.answer(iid, "ok")
    hub.down = False
    assert (await asyncio.wait_for(waiter, 5)).response == "ok"
    assert len(hub.help_calls) == 1


async def test_cancel_paths(relay: HelpRelay, hub: FakeHub) -> None:
    env = relay.register_task("t1")
    waiter = asyncio.create_task(_ask(env))
    iid = await wait_until(lambda: hub.interventions and hub.only_pending())
    hub.cancel(iid)
    outcome = await asyncio.wait_for(waiter, 5)
    assert outcome.status == "cancelled"

    waiter = asyncio.create_task(_ask(env))
    await wait_until(lambda: relay.pending("t1"))
    await relay.task_finished("t1")
    outcome = await asyncio.wait_for(waiter, 5)
    assert outcome.status == "cancelled" and "ended" in outcome.reason
    assert not (relay.state_dir / "task-t1.help.json").exists()
    late = await asyncio.wait_for(_ask(env), 5)  # asking after the task ended
    assert late.status == "cancelled"


async def test_timeout_and_refusal(relay: HelpRelay, hub: FakeHub) -> None:
    env = relay.register_task("t1")
    outcome = await asyncio.wait_for(_ask(env, timeout_s=0.5), 5)
    assert outcome.status == "timeout"
    hub.refuse = "task is not running"
    outcome = await asyncio.wait_for(_ask(env), 5)
    assert outcome.status == "error" and outcome.code == "refused" and "not running" in outcome.reason


async def test_bad_credentials_and_bad_requests(relay: HelpRelay, hub: FakeHub) -> None:
    env = relay.register_task("t1")
    relay.register_task("t2")
    wrong = dict(env, **{wire.ENV_TASK_ID: "t2"})  # t1's credential for t2
    outcome = await _ask(wrong)
    assert outcome.status == "error" and outcome.code == "unauthorized"
    outcome = await _ask(dict(env, **{wire.ENV_TASK_CREDENTIAL: "guess"}))
    assert outcome.code == "unauthorized"
    outcome = await _ask(env, "   ")
    assert outcome.code == "bad_request"
    assert not hub.help_calls
    reader, writer = await asyncio.open_unix_connection(str(relay.socket_path))
    writer.write(b"this is not json\n")
    await writer.drain()
    reply = json.loads(await reader.readline())
    writer.close()
    assert reply["type"] == "error" and reply["code"] == "bad_request"


async def test_outside_a_task(relay: HelpRelay) -> None:
    try:
        await asker.ask("q", env={})
    except asker.NotInTask as exc:
        assert wire.ENV_TASK_ID in str(exc)
    else:
        raise AssertionError("NotInTask expected")


async def test_unreachable_daemon_gives_up(short_dir) -> None:
    env = {wire.ENV_TASK_ID: "t", wire.ENV_TASK_CREDENTIAL: "c", wire.ENV_SOCKET: str(short_dir / "none.sock")}
    outcome = await asyncio.wait_for(asker.ask("q", env=env, give_up_after_s=0.3), 5)
    assert outcome.status == "error" and outcome.code == "unreachable"
    outcome = await asyncio.wait_for(asker.ask("q", env=env, timeout_s=0.2), 5)
    assert outcome.status == "timeout"


async def test_second_relay_on_same_socket_refuses(relay: HelpRelay, hub: FakeHub) -> None:
    other = HelpRelay(hub, relay.state_dir)
    try:
        await other.start()
    except RuntimeError as exc:
        assert "already serving" in str(exc)
    else:
        await other.close()
        raise AssertionError("a second relay must not steal a live socket")


async def test_long_state_dir_gets_a_private_short_socket(hub: FakeHub, short_dir) -> None:
    deep = short_dir / ("d" * 60) / ("e" * 60)
    relay = HelpRelay(hub, deep, poll_interval=0.05)
    await relay.start()
    try:
        assert len(str(relay.socket_path)) < 100 and relay.socket_path.parent.name.startswith("orchestratia-")
        assert stat.S_IMODE(os.stat(relay.socket_path.parent).st_mode) == 0o700
        env = relay.register_task("t1")
        waiter = asyncio.create_task(_ask(env))
        iid = await wait_until(lambda: hub.interventions and hub.only_pending())
        relay.notify_answered(iid, "short")
        assert (await asyncio.wait_for(waiter, 5)).response == "short"
    finally:
        await relay.close()
    assert not relay.socket_path.exists()


async def test_http_hub_api_bodies() -> None:
    import httpx

    from orchestratia.agent.human.hub_api import HelpRefused, HttpHubHelpAPI

    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-API-Key"] == "orc_k"
        if request.method == "POST":
            seen.append(json.loads(request.content))
            if "refuse" in seen[-1]["question"]:
                return httpx.Response(409, json={"detail": "task is completed"})
            return httpx.Response(201, json={"id": "i1", "intervention_id": "i1", "status": "pending"})
        if request.url.path.endswith("/gone"):
            return httpx.Response(404, json={"detail": "intervention not found"})
        if request.url.path.endswith("/flaky"):
            return httpx.Response(503, text="busy")
        return httpx.Response(200, json={"id": "i1", "status": "answered", "response": "r"})

    api = HttpHubHelpAPI("http://hub.test/", "orc_k", transport=httpx.MockTransport(handler))
    try:
        assert await api.request_help("t", "q", None) == "i1"
        assert seen[-1] == {"question": "q"}
        await api.request_approval("t", "Approve Bash: ls", "ctx", "Bash", {"command": "ls"})
        assert seen[-1]["kind"] == "approval" and seen[-1]["tool_input"] == {"command": "ls"}
        await api.request_approval("t", "Approve Write: /a", "ctx", "Write", {"content": "x" * 400_000})
        assert "tool_input" not in seen[-1] and seen[-1]["tool_name"] == "Write"
        try:
            await api.request_help("t", "refuse me", None)
        except HelpRefused as exc:
            assert exc.status_code == 409 and "completed" in exc.detail
        else:
            raise AssertionError("HelpRefused expected")
        assert (await api.get_intervention("i1"))["response"] == "r"
        try:
            await api.get_intervention("gone")
        except HelpRefused:
            pass
        else:
            raise AssertionError("HelpRefused expected")
        try:
            await api.get_intervention("flaky")
        except HelpRefused:
            raise AssertionError("a 503 is transient") from None
        except RuntimeError:
            pass
    finally:
        await api.aclose()
