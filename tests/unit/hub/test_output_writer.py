"""The hub's one output writer: every agent's output, a batch per transaction, each agent told
what became of its own; nothing lost at a stop."""

from __future__ import annotations

import asyncio

import pytest
from orchestratia.hub.output_writer import OutputWriter
from orchestratia.hub.task_output import NOT_FOUND, STORED, AppendResult, OutputItem

from .helpers import Api, agent_and_running_task


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


class Sink:
    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.told: list[tuple[list[OutputItem], list[AppendResult] | BaseException]] = []
        self.changed = asyncio.Event()

    def stored(self, items: list[OutputItem], results: list[AppendResult] | BaseException) -> None:
        self.told.append((items, results))
        self.changed.set()

    async def results(self, n: int) -> list[AppendResult]:
        async with asyncio.timeout(10):
            while sum(len(items) for items, _ in self.told) < n:
                self.changed.clear()
                await self.changed.wait()
        out: list[AppendResult] = []
        for _items, results in self.told:
            assert not isinstance(results, BaseException), results
            out += results
        return out


async def output_of(api: Api, task_id: str) -> bytes:
    r = await api.client.get(f"/api/admin/tasks/{task_id}/output", headers=api.headers)
    return r.content


async def test_two_agents_in_one_transaction_each_told_its_own(api: Api, hub) -> None:
    a, task_a = await agent_and_running_task(api, "dev-1")
    b, task_b = await agent_and_running_task(api, "dev-2")
    writer = OutputWriter(hub.store)
    sink_a, sink_b = Sink(a["id"]), Sink(b["id"])
    # queued before the writer runs: all of it is one batch
    writer.start()
    await writer.put(sink_a, OutputItem(task_a["id"], b"from a\n", offset=0))
    await writer.put(sink_b, OutputItem(task_b["id"], b"from b\n", offset=0))
    await writer.put(sink_b, OutputItem(task_a["id"], b"b writes into a's task\n", offset=7))  # hostile
    await writer.put(sink_a, OutputItem(task_a["id"], b"again\n", offset=7))
    assert [r.status for r in await sink_a.results(2)] == [STORED, STORED]
    assert [r.status for r in await sink_b.results(2)] == [STORED, NOT_FOUND]
    assert await output_of(api, task_a["id"]) == b"from a\nagain\n"
    assert await output_of(api, task_b["id"]) == b"from b\n"
    assert len(sink_a.told) == len(sink_b.told) == 1  # one batch, one report each
    await writer.stop()


async def test_output_handed_over_after_the_stop_is_stored_at_once(api: Api, hub) -> None:
    agent, task = await agent_and_running_task(api)
    writer = OutputWriter(hub.store)
    writer.start()
    sink = Sink(agent["id"])
    await writer.put(sink, OutputItem(task["id"], b"before\n", offset=0))
    await writer.stop()
    await writer.put(sink, OutputItem(task["id"], b"after\n", offset=7))
    assert [r.status for r in await sink.results(2)] == [STORED, STORED]
    assert await output_of(api, task["id"]) == b"before\nafter\n"
