"""The relay's use of the hub extensions, against the fake hub boundary: one ``request_id`` per
question, the same on every retry; a timed-out question is withdrawn on the hub (and a human's
answer that got there first still wins)."""

from __future__ import annotations

import asyncio
import json

from orchestratia.agent.human import asker, state as st
from orchestratia.agent.human.relay import HelpRelay

from .human_fakes import FakeHub, wait_until


async def _ask(env, question="What now?", **kw):
    return await asker.ask(question, kw.pop("context", None), env=env, **kw)


def _records(relay: HelpRelay, task_id: str = "t1") -> dict:
    return json.loads((relay.state_dir / f"task-{task_id}.help.json").read_text())["requests"]


async def test_a_lost_help_response_is_retried_with_the_same_request_id(relay: HelpRelay, hub: FakeHub) -> None:
    env = relay.register_task("t1")
    hub.lose_help_responses = 2  # the hub stores the question; the relay never hears back, twice
    waiter = asyncio.create_task(_ask(env, "Which DB?", request_id="asker-1"))
    iid = await wait_until(lambda: len(hub.request_ids) == 3 and hub.only_pending(), what="the third attempt")
    assert len(hub.help_calls) == 1 and len(set(hub.request_ids)) == 1 and hub.request_ids[0]
    assert _records(relay)["asker-1"]["hub_request_id"] == hub.request_ids[0]
    hub.answer(iid, "Postgres")
    assert (await asyncio.wait_for(waiter, 5)).response == "Postgres"
    second = asyncio.create_task(_ask(env, "Next?", request_id="asker-2"))
    hub.answer(await wait_until(lambda: len(hub.help_calls) == 2 and hub.only_pending()), "ok")
    await asyncio.wait_for(second, 5)
    assert len(set(hub.request_ids)) == 2  # a new question, a new key


async def test_a_state_file_without_request_ids_gets_one_before_the_first_post(hub: FakeHub, short_dir) -> None:
    credential = st.new_credential()
    record = st.new_record({"question": "from an older daemon"})
    del record["hub_request_id"]
    st.write_state(short_dir, "t1", {"task_id": "t1", "credential_sha256": st.credential_hash(credential),
                                      "requests": {"r1": record}})
    relay = HelpRelay(hub, short_dir, poll_interval=0.05)
    await relay.start()
    try:
        await wait_until(lambda: hub.help_calls, what="the resumed question posted")
        assert hub.request_ids[0] and _records(relay)["r1"]["hub_request_id"] == hub.request_ids[0]
    finally:
        await relay.close()


async def test_a_timed_out_question_is_withdrawn_on_the_hub(relay: HelpRelay, hub: FakeHub) -> None:
    env = relay.register_task("t1")
    outcome = await asyncio.wait_for(_ask(env, timeout_s=0.3), 5)
    assert outcome.status == "timeout"
    iid = next(iter(hub.interventions))
    assert hub.withdraw_calls == [iid] and hub.interventions[iid]["status"] == "withdrawn"
    assert next(iter(_records(relay).values()))["withdraw"] == "done"


async def test_an_answer_that_reached_the_hub_first_wins_over_the_timeout(hub: FakeHub, short_dir) -> None:
    relay = HelpRelay(hub, short_dir, poll_interval=3600)  # only the withdraw can find the answer
    await relay.start()
    try:
        env = relay.register_task("t1")
        waiter = asyncio.create_task(_ask(env, timeout_s=0.5))
        iid = await wait_until(lambda: hub.interventions and hub.get_calls and hub.only_pending())
        hub.answer(iid, "just in time")
        outcome = await asyncio.wait_for(waiter, 5)
        assert (outcome.status, outcome.response) == ("answered", "just in time")
        assert hub.withdraw_calls == [iid] and hub.interventions[iid]["status"] == "answered"
    finally:
        await relay.close()


async def test_a_withdraw_the_hub_missed_is_retried_even_across_a_restart(hub: FakeHub, short_dir) -> None:
    relay = HelpRelay(hub, short_dir, poll_interval=0.05, retry_max=0.1, withdraw_wait=0.1)
    await relay.start()
    env = relay.register_task("t1")
    hub.withdraw_down = True
    outcome = await asyncio.wait_for(_ask(env, timeout_s=0.3), 5)
    assert outcome.status == "timeout"  # the asker is not kept waiting for the hub
    iid = next(iter(hub.interventions))
    await wait_until(lambda: len(hub.withdraw_calls) >= 2, what="withdraw retried")
    await relay.close()
    assert next(iter(_records(relay).values()))["withdraw"] == "pending"
    hub.withdraw_down = False
    again = HelpRelay(hub, short_dir, poll_interval=0.05, retry_max=0.1)
    await again.start()
    try:
        await wait_until(lambda: hub.interventions[iid]["status"] == "withdrawn", what="withdrawn after the restart")
        await wait_until(lambda: next(iter(_records(again).values()))["withdraw"] == "done", what="persisted")
        replay = await asyncio.wait_for(_ask(env, request_id=next(iter(_records(again)))), 5)
        assert replay.status == "timeout"
    finally:
        await again.close()


async def test_an_old_hub_without_withdraw_still_times_out(relay: HelpRelay, hub: FakeHub) -> None:
    hub.no_withdraw = True
    env = relay.register_task("t1")
    outcome = await asyncio.wait_for(_ask(env, timeout_s=0.3), 5)
    assert outcome.status == "timeout" and len(hub.withdraw_calls) == 1
    assert hub.only_pending()  # such a hub keeps it pending, as before
